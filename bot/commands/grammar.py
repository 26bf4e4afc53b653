"""The `/moa` grammar: one typed command per verb, and `parse()` from the text people type."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from bot.commands.values import token
from moa.config.schema import PRESET_DESCRIPTIONS


class CommandError(Exception):
    """Bad input; the message says what would work."""


@dataclass(frozen=True)
class Help:
    topic: str = ""


@dataclass(frozen=True)
class Show:
    pass


@dataclass(frozen=True)
class SetLayers:
    value: str


@dataclass(frozen=True)
class SetAggregator:
    model: str


@dataclass(frozen=True)
class ListAgents:
    pass


@dataclass(frozen=True)
class AddAgent:
    name: str
    model: str
    temperature: str | None = None


@dataclass(frozen=True)
class RemoveAgent:
    name: str


@dataclass(frozen=True)
class SetAgentField:
    name: str
    field: str  # an AgentConfig field name: one of AGENT_FIELDS' values
    value: str


@dataclass(frozen=True)
class ListPresets:
    pass


@dataclass(frozen=True)
class UsePreset:
    name: str


@dataclass(frozen=True)
class Import:
    payload: str


@dataclass(frozen=True)
class Export:
    pass


@dataclass(frozen=True)
class Reset:
    pass


@dataclass(frozen=True)
class Forget:
    pass


@dataclass(frozen=True)
class ShowUsage:
    pass


@dataclass(frozen=True)
class ShowBudget:
    pass


@dataclass(frozen=True)
class SetBudget:
    kind: str  # "answers", "tokens" or "off"
    value: str = ""


@dataclass(frozen=True)
class StartExperiment:
    a: str  # a preset name, or "current" (the channel's setup now)
    b: str


@dataclass(frozen=True)
class ShowExperiment:
    pass


@dataclass(frozen=True)
class StopExperiment:
    adopt: str | None = None  # "A", "B" or an arm's name; None: keep the channel's setup


@dataclass(frozen=True)
class SetSwitch:
    """`early-exit on|off`, `early-answer on|off`: a config switch."""

    key: str  # the config key: one of SWITCHES' values
    value: str  # as typed; edits read on/off


Command = (Help | Show | SetLayers | SetAggregator | ListAgents | AddAgent | RemoveAgent | SetAgentField
           | ListPresets | UsePreset | Import | Export | Reset | Forget | ShowUsage | ShowBudget | SetBudget
           | StartExperiment | ShowExperiment | StopExperiment | SetSwitch)
CHANGING = (SetLayers, SetAggregator, AddAgent, RemoveAgent, SetAgentField, UsePreset, Import, Reset, Forget,
            SetBudget, StartExperiment, StopExperiment, SetSwitch)
# The switch commands: the word people type → the config key.
SWITCHES = {"early-exit": "early_exit", "early-answer": "early_answer"}

COMMANDS = ("show", "layers", "model", "agents", "presets", "preset", "import", "export", "reset", "forget",
            "usage", "budget", "experiment", "early-exit", "early-answer", "help")
_ALIASES = {"layer": "layers", "cycles": "layers", "aggregator": "model", "main_model": "model",
            "agent": "agents", "config": "show", "status": "show", "?": "help", "stats": "usage",
            "budgets": "budget", "experiments": "experiment", "early_exit": "early-exit",
            "earlyexit": "early-exit", "early_answer": "early-answer", "earlyanswer": "early-answer"}
AGENT_FIELDS = {"model": "model_name", "model_name": "model_name", "temperature": "temperature",
                "temp": "temperature", "prompt": "system_prompt", "system_prompt": "system_prompt",
                "max_tokens": "max_tokens", "max-tokens": "max_tokens", "maxtokens": "max_tokens",
                "tokens": "max_tokens"}
# The word replies and help use for each agent field, in the order help lists them.
FIELD_WORDS = {"model_name": "model", "temperature": "temperature", "system_prompt": "prompt",
               "max_tokens": "max_tokens"}

USAGE_ADD = "`/moa agents add NAME MODEL [TEMPERATURE]`, e.g. `/moa agents add critic openai/gpt-oss-20b 0.3`"
USAGE_REMOVE = "`/moa agents remove NAME`"
USAGE_SET = ("`/moa agents set NAME model MODEL`, `… temperature 0.5`, `… max_tokens 1024` or "
             "`… prompt TEXT with {helper_response}`")
USAGE_EXPERIMENT = ("`/moa experiment A B` (two presets, or `current`), `/moa experiment` (the standing) or "
                    "`/moa experiment stop [A|B]`")
USAGE_BUDGET = ("`/moa budget answers N` (per member per day), `/moa budget tokens N` (per channel per day) "
                "or `/moa budget off`")
TRY = ("`show`, `layers N`, `model MODEL`, `agents`, `presets`, `preset NAME`, `import JSON`, `export`, "
       "`reset`, `forget`, `usage`, `budget`, `experiment A B`, `early-exit on|off`, `early-answer on|off`, "
       "`help`")


def _split(text: str) -> tuple[str, str]:
    """The first word and the rest, as typed (the rest keeps its newlines)."""
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


# A quoted agent name may hold spaces: `/moa agents remove "my agent"` ('…' for a name with " in it).
_QUOTED_NAME = re.compile(r"""(?:"(.+?)"|'(.+?)'|“(.+?)”|‘(.+?)’|«(.+?)»|`(.+?)`)(?:\s+|$)""", re.DOTALL)


def _name_and_rest(text: str) -> tuple[str, str]:
    """An agent name and what follows it: a quoted name whole, else the first word without its quotes."""
    text = text.strip()
    quoted = _QUOTED_NAME.match(text)
    if quoted:
        return next(g for g in quoted.groups() if g is not None), text[quoted.end():].strip()
    word, rest = _split(text)
    return token(word), rest


def parse(text: str) -> Command:
    """Turn the text after `/moa` into a command; CommandError says what would work."""
    text = text.strip()
    if text.lower().startswith("/moa"):
        text = text[4:]
    word, rest = _split(text)
    verb = _ALIASES.get(word.lower(), word.lower())
    args = rest.split()
    if verb in ("", "help"):
        return Help(rest.lower())
    if verb == "show":
        return Show()
    if verb == "layers":
        if len(args) != 1:
            raise CommandError("Say how many layers, e.g. `/moa layers 3`.")
        return SetLayers(token(args[0]))
    if verb == "model":
        if len(args) != 1:
            raise CommandError("Name the aggregator model, e.g. `/moa model openai/gpt-oss-120b`.")
        return SetAggregator(token(args[0]))
    if verb == "agents":
        return _parse_agents(rest)
    if verb == "presets":
        return ListPresets()
    if verb == "preset":
        if len(args) != 1:
            raise CommandError(f"Name a preset, e.g. `/moa preset lite`. Presets: {', '.join(PRESET_DESCRIPTIONS)}.")
        return UsePreset(token(args[0]))
    if verb == "import":
        if not rest:
            raise CommandError("Paste the JSON after `/moa import`, e.g. `/moa import {\"layer_agent_1\": "
                               "{\"system_prompt\": \"Think step by step. {helper_response}\", \"model_name\": "
                               "\"openai/gpt-oss-20b\"}}`. `/moa export` shows the current setup as JSON.")
        return Import(rest)
    if verb == "budget":
        return _parse_budget(args)
    if verb == "experiment":
        return _parse_experiment(args)
    if verb in SWITCHES:
        if len(args) != 1:
            raise CommandError(f"Say on or off, e.g. `/moa {verb} on`.")
        return SetSwitch(SWITCHES[verb], token(args[0]))
    simple: dict[str, type[Export | Reset | Forget | ShowUsage]] = {
        "export": Export, "reset": Reset, "forget": Forget, "usage": ShowUsage}
    if verb in simple:
        if args:
            raise CommandError(f"`/moa {verb}` takes nothing after it.")
        return simple[verb]()
    guess = difflib.get_close_matches(verb, COMMANDS, n=1)
    hint = f" Did you mean `{guess[0]}`?" if guess else ""
    raise CommandError(f"Unknown command `{token(word)[:40]}`.{hint} Try: {TRY}.")


def _parse_experiment(args: list[str]) -> Command:
    """`/moa experiment`, `/moa experiment A B`, `/moa experiment stop [A|B]`."""
    if not args:
        return ShowExperiment()
    if args[0].lower() in ("stop", "end"):
        if len(args) > 2:
            raise CommandError(f"Usage: {USAGE_EXPERIMENT}.")
        return StopExperiment(token(args[1]) if len(args) == 2 else None)
    if args[0].lower() in ("start", "new") and len(args) == 3:
        args = args[1:]
    if len(args) != 2:
        raise CommandError(f"Name two setups to compare. Usage: {USAGE_EXPERIMENT}.")
    return StartExperiment(token(args[0]), token(args[1]))


def _parse_agents(rest: str) -> Command:
    """`/moa agents …`: list, add, remove or set one field."""
    word, tail = _split(rest)
    sub = word.lower()
    if sub in ("", "list", "ls"):
        return ListAgents()
    if sub in ("add", "new"):
        name, after = _name_and_rest(tail)
        args = after.split()
        if not name or len(args) not in (1, 2):
            raise CommandError(f"Usage: {USAGE_ADD}.")
        return AddAgent(name, token(args[0]), args[1] if len(args) == 2 else None)
    if sub in ("remove", "rm", "delete", "del"):
        name, after = _name_and_rest(tail)
        if not name or after:
            raise CommandError(f"Usage: {USAGE_REMOVE}.")
        return RemoveAgent(name)
    if sub == "set":
        # The value keeps its spaces and newlines: a prompt is many words.
        name, after_name = _name_and_rest(tail)
        key, value = _split(after_name)
        if not name or not key or not value:
            raise CommandError(f"Usage: {USAGE_SET}.")
        if key.lower() not in AGENT_FIELDS:
            raise CommandError(f"Agents have `model`, `temperature`, `prompt` and `max_tokens`, not "
                               f"`{token(key)[:40]}`. Usage: {USAGE_SET}.")
        return SetAgentField(name, AGENT_FIELDS[key.lower()], value)
    raise CommandError(f"Unknown agents command `{token(word)[:40]}`. Try `/moa agents` (list), {USAGE_ADD}, "
                       f"{USAGE_REMOVE} or {USAGE_SET}.")


def _parse_budget(args: list[str]) -> Command:
    """`/moa budget`, `budget answers N`, `budget tokens N`, `budget off`."""
    if not args:
        return ShowBudget()
    kind = args[0].lower()
    if kind in ("off", "none") and len(args) == 1:
        return SetBudget("off")
    kind = {"answer": "answers", "token": "tokens"}.get(kind, kind)
    if kind in ("answers", "tokens") and len(args) == 2:
        return SetBudget(kind, token(args[1]))
    raise CommandError(f"Usage: {USAGE_BUDGET}; `/moa budget` shows this channel's budgets.")
