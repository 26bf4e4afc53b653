"""The `/moa` command grammar both platforms share: parse → check admin → validate → apply → reply.

Adapters pass the text after `/moa` (Discord rebuilds it from its typed options) and a context saying
who asks and how to find out whether they may change things. Every bad input gets a sentence saying
what would work, and nothing is stored unless the whole new config is valid, within the operator's
limits and uses only live models.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from bot.render import Style, plural, render_config, style_for
from bot.service import CommandContext, CommandReply
from moa.config import (
    HELPER_SLOT,
    PRESET_DESCRIPTIONS,
    AgentConfig,
    Limits,
    MoaConfig,
    check_limits,
    default_config,
    parse_config,
    preset,
)
from moa.errors import ConfigError, ProviderError
from storage.models import ChannelKey, ConfigChange, StoredConfig

MAX_COMMAND_CHARS = 20_000
MAX_LISTED_MODELS = 30  # an unknown-model reply lists at most this many live models

ADMIN_REFUSAL = (
    "Only channel admins can change the MoA setup here (Discord: Manage Channels; Slack: workspace "
    "admins or SLACK_ADMIN_USERS). `/moa show` works for everyone."
)
NOTHING_CHANGED = "Nothing changed."


# ---- what commands need ------------------------------------------------------------------------


class ConfigStore(Protocol):
    """Per-channel configs (storage.configs.ConfigRepository)."""

    async def get(self, channel: ChannelKey) -> StoredConfig | None: ...
    async def effective(self, channel: ChannelKey) -> StoredConfig | None: ...
    async def put(self, channel: ChannelKey, config_json: str, changed_by: str, summary: str) -> None: ...
    async def delete(self, channel: ChannelKey, changed_by: str) -> bool: ...
    async def changes(self, channel: ChannelKey, limit: int = 20) -> list[ConfigChange]: ...


class HistoryStore(Protocol):
    """Stored conversation (storage.db.Database)."""

    async def forget(self, channel: ChannelKey) -> int: ...


class ModelCatalog(Protocol):
    """The live model list (moa.providers.ProviderRegistry); both may raise ProviderError."""

    async def live_models(self) -> list[str]: ...
    async def unknown_models(self, ids: Iterable[str]) -> list[str]: ...


@dataclass(frozen=True)
class CommandDeps:
    """What commands need; cheap to build per command."""

    configs: ConfigStore
    history: HistoryStore
    models: ModelCatalog
    limits: Limits = field(default_factory=Limits)


# Config edits are read-modify-write: two admins editing one channel at once must not lose an edit.
# Weak values: a lock lives only while someone holds or awaits it, so none outlives its event loop.
_EDIT_LOCKS: weakref.WeakValueDictionary[ChannelKey, asyncio.Lock] = weakref.WeakValueDictionary()


def _edit_lock(channel: ChannelKey) -> asyncio.Lock:
    lock = _EDIT_LOCKS.get(channel)
    if lock is None:
        lock = _EDIT_LOCKS[channel] = asyncio.Lock()
    return lock


class CommandError(Exception):
    """Bad input; the message says what would work."""


# ---- the grammar -------------------------------------------------------------------------------


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
    field: str  # one of AGENT_FIELDS' values
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


Command = (Help | Show | SetLayers | SetAggregator | ListAgents | AddAgent | RemoveAgent | SetAgentField
           | ListPresets | UsePreset | Import | Export | Reset | Forget)
CHANGING = (SetLayers, SetAggregator, AddAgent, RemoveAgent, SetAgentField, UsePreset, Import, Reset, Forget)

COMMANDS = ("show", "layers", "model", "agents", "presets", "preset", "import", "export", "reset", "forget",
            "help")
_ALIASES = {"layer": "layers", "cycles": "layers", "aggregator": "model", "main_model": "model",
            "agent": "agents", "config": "show", "status": "show", "?": "help"}
AGENT_FIELDS = {"model": "model_name", "model_name": "model_name", "temperature": "temperature",
                "temp": "temperature", "prompt": "system_prompt", "system_prompt": "system_prompt",
                "max_tokens": "max_tokens", "max-tokens": "max_tokens", "maxtokens": "max_tokens",
                "tokens": "max_tokens"}

USAGE_ADD = "`/moa agents add NAME MODEL [TEMPERATURE]`, e.g. `/moa agents add critic openai/gpt-oss-20b 0.3`"
USAGE_REMOVE = "`/moa agents remove NAME`"
USAGE_SET = ("`/moa agents set NAME model MODEL`, `… temperature 0.5`, `… max_tokens 1024` or "
             "`… prompt TEXT with {helper_response}`")
TRY = ("`show`, `layers N`, `model MODEL`, `agents`, `presets`, `preset NAME`, `import JSON`, `export`, "
       "`reset`, `forget`, `help`")

_QUOTES = "\"'`“”‘’«»"  # people paste names in smart quotes too
_QUOTE_PAIRS = {('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("«", "»")}
_SMART_DOUBLE = str.maketrans({"“": '"', "”": '"', "„": '"', "″": '"'})


def _split(text: str) -> tuple[str, str]:
    """The first word and the rest, as typed (the rest keeps its newlines)."""
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _token(word: str) -> str:
    """A name or model as typed, without the quotes or backticks people wrap it in."""
    return word.strip().strip(_QUOTES).strip()


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
        return SetLayers(_token(args[0]))
    if verb == "model":
        if len(args) != 1:
            raise CommandError("Name the aggregator model, e.g. `/moa model openai/gpt-oss-120b`.")
        return SetAggregator(_token(args[0]))
    if verb == "agents":
        return _parse_agents(rest)
    if verb == "presets":
        return ListPresets()
    if verb == "preset":
        if len(args) != 1:
            raise CommandError(f"Name a preset, e.g. `/moa preset lite`. Presets: {', '.join(PRESET_DESCRIPTIONS)}.")
        return UsePreset(_token(args[0]))
    if verb == "import":
        if not rest:
            raise CommandError("Paste the JSON after `/moa import`, e.g. `/moa import {\"layer_agent_1\": "
                               "{\"system_prompt\": \"Think step by step. {helper_response}\", \"model_name\": "
                               "\"openai/gpt-oss-20b\"}}`. `/moa export` shows the current setup as JSON.")
        return Import(rest)
    simple: dict[str, type[Export | Reset | Forget]] = {"export": Export, "reset": Reset, "forget": Forget}
    if verb in simple:
        if args:
            raise CommandError(f"`/moa {verb}` takes nothing after it.")
        return simple[verb]()
    guess = difflib.get_close_matches(verb, COMMANDS, n=1)
    hint = f" Did you mean `{guess[0]}`?" if guess else ""
    raise CommandError(f"Unknown command `{_token(word)[:40]}`.{hint} Try: {TRY}.")


def _parse_agents(rest: str) -> Command:
    word, tail = _split(rest)
    sub = word.lower()
    args = tail.split()
    if sub in ("", "list", "ls"):
        return ListAgents()
    if sub in ("add", "new"):
        if len(args) not in (2, 3):
            raise CommandError(f"Usage: {USAGE_ADD}.")
        return AddAgent(_token(args[0]), _token(args[1]), args[2] if len(args) == 3 else None)
    if sub in ("remove", "rm", "delete", "del"):
        if len(args) != 1:
            raise CommandError(f"Usage: {USAGE_REMOVE}.")
        return RemoveAgent(_token(args[0]))
    if sub == "set":
        name, after_name = _split(tail)
        key, value = _split(after_name)
        if not name or not key or not value:
            raise CommandError(f"Usage: {USAGE_SET}.")
        if key.lower() not in AGENT_FIELDS:
            raise CommandError(f"Agents have `model`, `temperature`, `prompt` and `max_tokens`, not "
                               f"`{_token(key)[:40]}`. Usage: {USAGE_SET}.")
        return SetAgentField(_token(name), AGENT_FIELDS[key.lower()], value)
    raise CommandError(f"Unknown agents command `{_token(word)[:40]}`. Try `/moa agents` (list), {USAGE_ADD}, "
                       f"{USAGE_REMOVE} or {USAGE_SET}.")


# ---- running a command -------------------------------------------------------------------------


async def execute(ctx: CommandContext, text: str, deps: CommandDeps) -> CommandReply:
    """Run one `/moa` command for `ctx` and say what happened; bad input changes nothing."""
    if len(text) > MAX_COMMAND_CHARS:
        return CommandReply(f"That command is {len(text):,} characters; the limit is {MAX_COMMAND_CHARS:,}. "
                            "Shorten the prompts or import fewer agents. " + NOTHING_CHANGED)
    try:
        command = parse(text)
    except CommandError as err:
        return CommandReply(str(err))
    changing = isinstance(command, CHANGING)
    # Asked only now: the admin check may cost a platform API call, and reading needs no rights.
    if changing and not await ctx.is_admin():
        return CommandReply(ADMIN_REFUSAL)
    run = _Run(ctx, deps, style_for(ctx.channel.platform))
    try:
        if changing:
            async with _edit_lock(ctx.channel):
                return await run.change(command)
        return await run.read(command)
    except (CommandError, ConfigError) as err:
        text = str(err) if str(err).endswith((".", "?", "!")) else f"{err}."
        return CommandReply(f"{text} {NOTHING_CHANGED}" if changing else text)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _whole(raw: str) -> int | None:
    text = raw.strip(_QUOTES).replace(",", "")  # "1,024"
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None


def _real(raw: str) -> float | None:
    text = raw.strip(_QUOTES).replace(",", ".")  # "0,7" where the comma is the decimal mark
    return float(text) if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", text) else None


def _strip_fences(payload: str) -> str:
    """The JSON inside a pasted ```json … ``` block or `…` span."""
    text = payload.strip()
    match = re.fullmatch(r"```[\w-]*[ \t]*\n?(.*?)\n?[ \t]*```", text, flags=re.DOTALL)
    if match:
        text = match.group(1)
    return text.strip().strip("`").strip()


def _import_json(payload: str) -> str:
    """Pasted config text as JSON; Slack's smart quotes become straight ones if the text needs it."""
    text = _strip_fences(payload)
    try:
        json.loads(text)
    except json.JSONDecodeError:
        fixed = text.translate(_SMART_DOUBLE)
        if fixed != text:
            try:
                json.loads(fixed)
                return fixed
            except json.JSONDecodeError:
                pass
    return text


def _calls(config: MoaConfig) -> str:
    agents = len(config.layer_agent_config)
    return (f"{config.call_count} model calls per answer ({plural(config.cycles, 'layer')} × "
            f"{plural(agents, 'agent')} + the aggregator).")


_SECRET = re.compile(r"gsk_[A-Za-z0-9]{12,}|xox[abeoprs]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}"
                     r"|sk-[A-Za-z0-9_-]{16,}|[MNO][A-Za-z\d_-]{23,}\.[\w-]{6}\.[\w-]{27,}")


def redact_secrets(text: str) -> str:
    """Configs hold no secrets by design, but a key pasted into a prompt must not be echoed back."""
    return _SECRET.sub("[redacted]", text)


class _Run:
    """One command's work for one channel."""

    def __init__(self, ctx: CommandContext, deps: CommandDeps, style: Style) -> None:
        self.ctx, self.deps, self.style = ctx, deps, style
        self.channel = ctx.channel

    # -- reading -------------------------------------------------------------------------------

    async def current(self) -> tuple[MoaConfig, StoredConfig | None]:
        """The config that applies to this channel and the stored row it came from (None: built-in)."""
        stored = await self.deps.configs.effective(self.channel)
        if stored is None:
            return default_config(), None
        try:
            # No limits here: a config stored before the operator tightened them must still load.
            return MoaConfig.model_validate_json(stored.config_json), stored
        except (ValidationError, ValueError):
            raise CommandError("The stored setup for this channel can't be read; `/moa reset` goes back "
                               "to the default.") from None

    def who(self, user: str) -> str:
        return f"<@{user}>" if self.channel.platform in ("slack", "discord") else user

    def source(self, stored: StoredConfig | None) -> str:
        if stored is None:
            return "the built-in default"
        if stored.scope == "workspace":
            return f"the workspace default (set by {self.who(stored.changed_by)}, {_when(stored.changed_at)})"
        return f"this channel's own setup (set by {self.who(stored.changed_by)}, {_when(stored.changed_at)})"

    async def read(self, command: Command) -> CommandReply:
        match command:
            case Help(topic):
                return CommandReply(self.help(topic))
            case Show():
                return CommandReply(await self.show())
            case ListAgents():
                config, _ = await self.current()
                return CommandReply(self.agents(config))
            case ListPresets():
                return CommandReply(await self.presets())
            case Export():
                config, stored = await self.current()
                body = redact_secrets(config.export_json())
                return CommandReply(f"{self.style.bold('MoA setup')} — {self.source(stored)}. Paste it after "
                                    f"`/moa import` to use it elsewhere.\n```json\n{body}\n```")
        raise AssertionError(f"not a reading command: {command!r}")

    async def show(self) -> str:
        config, stored = await self.current()
        lines = [redact_secrets(render_config(config, self.source(stored), self.style))]
        changes = await self.deps.configs.changes(self.channel, limit=3)
        if changes:
            lines.append("Recent changes: " + "; ".join(
                f"{c.summary} by {self.who(c.changed_by)} ({_when(c.changed_at)})" for c in changes))
        lines.append("Admins change it with `/moa layers N`, `/moa model MODEL`, `/moa agents …`, "
                     "`/moa preset NAME` — `/moa help` lists everything.")
        return "\n".join(lines)

    def agents(self, config: MoaConfig) -> str:
        lines = [f"{self.style.bold('Agents')} ({len(config.layer_agent_config)}, each answers once per layer):"]
        for name, agent in config.agents:
            prompt = " ".join(agent.system_prompt.split())
            if len(prompt) > 100:  # the whole prompt is one `/moa export` away
                prompt = prompt[:99] + "…"
            lines.append(f"• {self.style.bold(name)}: `{agent.model_name}`, temperature {agent.temperature:g}, "
                         f"max {agent.max_tokens:,} tokens — “{redact_secrets(prompt)}”")
        lines.append(f"Change them with {USAGE_ADD}, {USAGE_REMOVE} or {USAGE_SET}.")
        return "\n".join(lines)

    async def presets(self) -> str:
        config, _ = await self.current()
        lines = [self.style.bold("Presets") + " (use one with `/moa preset NAME`):"]
        for name, description in PRESET_DESCRIPTIONS.items():
            in_use = " ← in use here" if preset(name).export() == config.export() else ""
            lines.append(f"• `{name}` — {description}{in_use}")
        return "\n".join(lines)

    def help(self, topic: str) -> str:
        limits = self.deps.limits
        if topic.startswith("agent"):
            lines = [self.style.bold("Agent settings") + " (`/moa agents set NAME FIELD VALUE`):"]
            for key, name in (("model", "model_name"), ("temperature", "temperature"),
                              ("prompt", "system_prompt"), ("max_tokens", "max_tokens")):
                lines.append(f"• `{key}` — {AgentConfig.model_fields[name].description}")
            return "\n".join(lines)
        fields = {name: (f.description or "").rstrip(".") for name, f in MoaConfig.model_fields.items()}
        admin = " (admins)"
        return "\n".join([
            self.style.bold("/moa commands"),
            "• `show` — this channel's MoA setup and where it comes from",
            f"• `layers N` — {fields['cycles']} (1–{limits.max_layers}){admin}",
            f"• `model MODEL` — {fields['main_model']}{admin}",
            "• `agents` — list the proposers; `agents add NAME MODEL [TEMPERATURE]`, `agents remove NAME`, "
            f"`agents set NAME model|temperature|prompt|max_tokens VALUE`{admin} (`/moa help agents` for details)",
            f"• `presets` — the built-in setups; `preset NAME` uses one{admin}",
            f"• `import JSON` — use a pasted config (the article's format or an export){admin}; "
            "`export` — this setup as JSON",
            f"• `reset` — back to the workspace or built-in default{admin}",
            f"• `forget` — delete this channel's stored conversation history and runs{admin}",
            "• `help` — this list",
            f"Limits here: up to {limits.max_layers} layers, {limits.max_agents} agents and "
            f"{limits.max_calls} model calls per answer.",
        ])

    # -- changing ------------------------------------------------------------------------------

    async def change(self, command: Command) -> CommandReply:
        match command:
            case Reset():
                return await self.reset()
            case Forget():
                removed = await self.deps.history.forget(self.channel)
                if not removed:
                    return CommandReply("There is no stored history for this channel; nothing to forget.")
                return CommandReply(f"🧹 Forgot this channel's history: {plural(removed, 'stored item')} "
                                    "(messages and runs) deleted. The MoA setup is unchanged.", changed=True)
        config, _ = await self.current()
        result = await self.edit(config, command)
        if isinstance(result, str):  # nothing to change
            return CommandReply(result)
        new, summary, note = result
        await self.deps.configs.put(self.channel, new.export_json(), self.ctx.user, summary)
        return CommandReply(f"✅ {note} Now {_calls(new)}", changed=True)

    async def reset(self) -> CommandReply:
        removed = await self.deps.configs.delete(self.channel, self.ctx.user)
        config, stored = await self.current()
        if not removed:
            return CommandReply(f"This channel has no setup of its own; it already uses {self.source(stored)}. "
                                "Nothing to reset.")
        return CommandReply(f"✅ Reset: this channel now uses {self.source(stored)}: "
                            f"{plural(config.cycles, 'layer')}, aggregator `{config.main_model}`, "
                            f"{plural(len(config.layer_agent_config), 'agent')}. Now {_calls(config)}",
                            changed=True)

    def rebuilt(self, base: MoaConfig, data: dict[str, Any]) -> MoaConfig:
        """The edited config, validated whole and against the operator's limits."""
        return parse_config(data, limits=self.deps.limits, base=base)

    async def edit(self, config: MoaConfig, command: Command) -> tuple[MoaConfig, str, str] | str:
        """(new config, change-log summary, reply sentence), or a reply when there is nothing to do."""
        data = config.export()
        agents: dict[str, dict[str, Any]] = data["layer_agent_config"]
        limits = self.deps.limits
        match command:
            case SetLayers(raw):
                layers = _whole(raw)
                if layers is None:
                    raise CommandError(f"`{raw[:40]}` is not a number of layers. Use a whole number from 1 to "
                                       f"{limits.max_layers}, e.g. `/moa layers 3`.")
                if not 1 <= layers <= limits.max_layers:
                    raise CommandError(f"{layers} layers is out of range: use a number from 1 to "
                                       f"{limits.max_layers}, e.g. `/moa layers 3`.")
                if layers == config.cycles:
                    return f"This channel already uses {plural(config.cycles, 'layer')}; nothing to change."
                data["cycles"] = layers
                new = self.rebuilt(config, data)
                return new, f"layers {layers}", f"Layers: {config.cycles} → {layers}."
            case SetAggregator(model):
                model = await self.live(model, config)
                if model == config.main_model:
                    return f"The aggregator is already `{model}`; nothing to change."
                data["main_model"] = model
                new = self.rebuilt(config, data)
                return new, f"model {model}", f"Aggregator: `{config.main_model}` → `{model}`."
            case AddAgent(name, model, raw_temperature):
                if self.find(config, name, must_exist=False) is not None:
                    raise CommandError(f"There is already an agent called `{name}`; pick another name or change "
                                       f"it with `/moa agents set {name} model MODEL`.")
                if len(name) > 40:
                    raise CommandError("Agent names are at most 40 characters; pick a shorter one.")
                if len(agents) >= limits.max_agents:
                    raise CommandError(f"This channel already has {len(agents)} agents, the most allowed; remove "
                                       f"one first with {USAGE_REMOVE}.")
                temperature = 0.7 if raw_temperature is None else self.temperature(raw_temperature)
                model = await self.live(model, config)
                agents[name] = AgentConfig.model_validate(
                    {"model_name": model, "temperature": temperature}).model_dump(mode="json")
                new = self.rebuilt(config, data)
                return (new, f"agents add {name}",
                        f"Added agent `{name}`: `{model}`, temperature {temperature:g}, the default prompt.")
            case RemoveAgent(name):
                name = self.find(config, name) or name
                if len(agents) == 1:
                    raise CommandError(f"`{name}` is the only agent, and a MoA setup needs at least one. Add "
                                       f"another first with {USAGE_ADD}.")
                del agents[name]
                new = self.rebuilt(config, data)
                return new, f"agents remove {name}", f"Removed agent `{name}`."
            case SetAgentField(name, key, raw):
                name = self.find(config, name) or name
                return await self.set_field(config, data, name, key, raw)
            case UsePreset(name):
                new = check_limits(preset(name), limits)
                await self.all_live(new)
                key = name.strip().lower()
                return new, f"preset {key}", f"Preset `{key}`: {PRESET_DESCRIPTIONS.get(key, key)}."
            case Import(payload):
                new = parse_config(_import_json(payload), limits=limits, base=config)
                await self.all_live(new)
                return (new, "import", f"Imported: {plural(new.cycles, 'layer')}, aggregator `{new.main_model}`, "
                                       f"agents {', '.join(f'{n} (`{a.model_name}`)' for n, a in new.agents)}.")
        raise AssertionError(f"not a changing command: {command!r}")

    async def set_field(self, config: MoaConfig, data: dict[str, Any], name: str, key: str,
                        raw: str) -> tuple[MoaConfig, str, str] | str:
        agent: dict[str, Any] = data["layer_agent_config"][name]
        note = ""
        value: Any
        if key == "model_name":
            value = await self.live(_token(raw), config)
            shown = f"`{value}`"
        elif key == "temperature":
            value = self.temperature(raw)
            shown = f"{value:g}"
        elif key == "max_tokens":
            value = _whole(raw)
            if value is None or not 1 <= value <= 32768:
                raise CommandError(f"max_tokens must be a whole number from 1 to 32768, e.g. 1024 (not "
                                   f"`{raw[:40]}`).")
            shown = f"{value:,}"
        else:
            value = raw.strip()
            if len(value) >= 2 and (value[0], value[-1]) in _QUOTE_PAIRS:
                value = value[1:-1].strip()
            if HELPER_SLOT not in value and "{助手回应}" not in value:
                value += f" {HELPER_SLOT}"
                note = f" I added {HELPER_SLOT} at the end: that is where the previous layer's answers go."
            shown = "updated"
        if agent[key] == value:
            return f"`{name}` already has that {key.replace('_name', '')}; nothing to change."
        agent[key] = value
        new = self.rebuilt(config, data)
        label = {"model_name": "model", "system_prompt": "prompt"}.get(key, key)
        return new, f"agents set {name} {label}", f"Agent `{name}` {label}: {shown}.{note}"

    def find(self, config: MoaConfig, name: str, *, must_exist: bool = True) -> str | None:
        """The agent's exact name (case-forgiving), or CommandError naming the agents there are."""
        if name in config.layer_agent_config:
            return name
        folded = [n for n in config.layer_agent_config if n.casefold() == name.casefold()]
        if len(folded) == 1:
            return folded[0]
        if not must_exist:
            return None
        raise CommandError(f"There is no agent called `{name[:40]}`. Agents here: "
                           f"{', '.join(f'`{n}`' for n in config.layer_agent_config)}.")

    @staticmethod
    def temperature(raw: str) -> float:
        value = _real(raw)
        if value is None or not 0 <= value <= 2:
            raise CommandError(f"Temperature must be a number from 0 to 2, e.g. 0.7 (not `{raw[:40]}`).")
        return value

    # -- the live model list -------------------------------------------------------------------

    async def live(self, model: str, config: MoaConfig) -> str:
        """`model` as the provider spells it if it is live now; models already in use are trusted."""
        if model in config.models():
            return model
        return (await self.check_live([model]))[model]

    async def all_live(self, config: MoaConfig) -> None:
        canonical = await self.check_live(config.models())
        mismatched = [m for m, c in canonical.items() if m != c]
        if mismatched:  # a whole pasted config is not silently rewritten: say the right spelling
            raise CommandError("Model ids are case-sensitive: " + ", ".join(
                f"use `{canonical[m]}` instead of `{m}`" for m in mismatched) + ".")

    async def check_live(self, models: list[str]) -> dict[str, str]:
        """Each model → its live spelling; CommandError for any model not served now."""
        try:
            unknown = await self.deps.models.unknown_models(models)
            live = await self.deps.models.live_models() if unknown else []
        except ProviderError as err:
            raise CommandError(f"I couldn't fetch the live model list to check the model ({err}). "
                               "Try again in a minute.") from None
        resolved = {m: m for m in models}
        missing = []
        for model in unknown:
            same = [m for m in live if m.casefold() == model.casefold()]
            if same:
                resolved[model] = same[0]
            else:
                missing.append(model)
        if not missing:
            return resolved
        names = ", ".join(f"`{m[:80]}`" for m in missing)
        text = f"Unknown model {names}." if len(missing) == 1 else f"Unknown models {names}."
        guess = difflib.get_close_matches(missing[0], live, n=1, cutoff=0.5)
        if guess:
            text += f" Did you mean `{guess[0]}`?"
        shown = sorted(live)[:MAX_LISTED_MODELS]
        more = len(live) - len(shown)
        text += " Live models: " + ", ".join(shown) + (f" and {more} more." if more else ".")
        raise CommandError(text)
