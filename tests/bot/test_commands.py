"""`/moa` commands as people type them: exact replies, and for every bad input, nothing stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from bot.commands import ADMIN_REFUSAL, MAX_COMMAND_CHARS, CommandDeps, execute
from bot.service import CommandContext, CommandReply
from moa.config import Limits, MoaConfig, default_config, preset
from moa.errors import ProviderError
from storage.db import Database
from storage.models import ChannelKey

CHANNEL = ChannelKey("slack", "T1", "C1")
OTHER = ChannelKey("slack", "T1", "C2")
LIVE = ["openai/gpt-oss-120b", "openai/gpt-oss-20b", "qwen/qwen3.8-27b", "groq/compound"]
LIVE_LIST = "Live models: groq/compound, openai/gpt-oss-120b, openai/gpt-oss-20b, qwen/qwen3.8-27b."
DEFAULT_CALLS = "10 model calls per answer (3 layers × 3 agents + the aggregator)."


class Catalog:
    """The live model list as the provider registry reports it."""

    def __init__(self, live: list[str]) -> None:
        self.live = live
        self.down = False
        self.asked: list[list[str]] = []

    async def live_models(self) -> list[str]:
        if self.down:
            raise ProviderError("Groq is unreachable")
        return list(self.live)

    async def unknown_models(self, ids: Iterable[str]) -> list[str]:
        ids = list(ids)
        self.asked.append(ids)
        if self.down:
            raise ProviderError("Groq is unreachable")
        return [m for m in ids if m not in self.live]


class Asker:
    """Who runs the command; counts how often the adapter had to check admin rights."""

    def __init__(self, admin: bool, user: str = "U1", channel: ChannelKey = CHANNEL) -> None:
        self.admin_checks = 0
        self.ctx = CommandContext(channel=channel, user=user, is_admin=self._is_admin)
        self._admin = admin

    async def _is_admin(self) -> bool:
        self.admin_checks += 1
        return self._admin


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "moa.db")
    yield database
    await database.close()


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(LIVE)


@pytest.fixture
def deps(db: Database, catalog: Catalog) -> CommandDeps:
    return CommandDeps(configs=db.configs, history=db, models=catalog, limits=Limits())


async def run(deps: CommandDeps, text: str, *, admin: bool = True, channel: ChannelKey = CHANNEL) -> CommandReply:
    return await execute(Asker(admin, channel=channel).ctx, text, deps)


async def stored(db: Database, channel: ChannelKey = CHANNEL) -> MoaConfig | None:
    row = await db.configs.get(channel)
    return MoaConfig.model_validate_json(row.config_json) if row else None


async def state(db: Database) -> tuple[object, ...]:
    """Everything a command could change: the stored config, its change log, the history."""
    config = await db.configs.get(CHANNEL)
    return (config, await db.configs.changes(CHANNEL), await db.turns.history(CHANNEL, "t1", 10_000))


# ---- help, show, unknown -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "help", "HELP", "/moa help"])
async def test_help_lists_every_command_one_line_each(deps: CommandDeps, text: str) -> None:
    asker = Asker(admin=False)
    reply = await execute(asker.ctx, text, deps)
    lines = reply.text.split("\n")
    assert lines[0] == "*/moa commands*"
    for command in ("`show`", "`layers N`", "`model MODEL`", "`agents`", "`presets`", "`preset NAME`",
                    "`import JSON`", "`export`", "`reset`", "`forget`", "`help`"):
        assert sum(command in line for line in lines) == 1, command
    assert "• `layers N` — Proposer layers before the aggregator (1–4) (admins)" in lines
    assert lines[-1] == "Limits here: up to 4 layers, 6 agents and 25 model calls per answer."
    assert not reply.changed and asker.admin_checks == 0


async def test_help_agents_explains_each_agent_field(deps: CommandDeps) -> None:
    reply = await run(deps, "help agents")
    assert "• `temperature` — Sampling temperature, 0–2." in reply.text
    assert "• `prompt` — The agent's instruction; {helper_response} marks where" in reply.text


async def test_show_tells_everyone_the_builtin_default_with_call_count(deps: CommandDeps) -> None:
    asker = Asker(admin=False)
    reply = await execute(asker.ctx, "show", deps)
    assert reply.text.startswith(
        "*MoA setup* — the built-in default\n"
        "• Layers: 3\n"
        "• Aggregator: `openai/gpt-oss-120b` (temperature 0.5, max 2,048 tokens)\n"
        "• Agents (3):\n"
        "    – *layer_agent_1*: `openai/gpt-oss-20b`, temperature 0.7, max 1,024 tokens\n")
    assert f"• {DEFAULT_CALLS[:-1]}\n" in reply.text
    assert asker.admin_checks == 0 and not reply.changed


async def test_show_names_who_set_the_channel_setup_and_recent_changes(deps: CommandDeps) -> None:
    await run(deps, "layers 2")
    reply = await run(deps, "show", admin=False)
    assert "*MoA setup* — this channel's own setup (set by <@U1>, " in reply.text
    assert "Recent changes: layers 2 by <@U1> (" in reply.text


async def test_show_falls_back_to_the_workspace_default(db: Database, deps: CommandDeps) -> None:
    await db.configs.put(CHANNEL.workspace_default(), preset("lite").export_json(), "UADMIN", "preset lite")
    reply = await run(deps, "show")
    assert reply.text.startswith("*MoA setup* — the workspace default (set by <@UADMIN>, ")
    assert "• 3 model calls per answer (1 layer × 2 agents + the aggregator)" in reply.text


async def test_discord_replies_use_discord_bold(deps: CommandDeps) -> None:
    reply = await run(deps, "show", channel=ChannelKey("discord", "111111111111111111", "222222222222222222"))
    assert reply.text.startswith("**MoA setup** — the built-in default")


async def test_unknown_command_suggests_the_closest_and_lists_what_works(db: Database, deps: CommandDeps) -> None:
    before = await state(db)
    reply = await run(deps, "lyers 2")
    assert reply == CommandReply(
        "Unknown command `lyers`. Did you mean `layers`? Try: `show`, `layers N`, `model MODEL`, `agents`, "
        "`presets`, `preset NAME`, `import JSON`, `export`, `reset`, `forget`, `help`.")
    assert (await run(deps, "frobnicate")).text.startswith("Unknown command `frobnicate`. Try: `show`")
    assert await state(db) == before


# ---- layers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["layers 2", "LAYERS 2", "/moa layers 2", "Layers `2`", "cycles 2"])
async def test_admin_sets_layers_and_it_is_stored(db: Database, deps: CommandDeps, text: str) -> None:
    reply = await run(deps, text)
    assert reply == CommandReply(
        "✅ Layers: 3 → 2. Now 7 model calls per answer (2 layers × 3 agents + the aggregator).", changed=True)
    config = await stored(db)
    assert config is not None and config.cycles == 2
    assert config.layer_agent_config == default_config().layer_agent_config
    assert [c.summary for c in await db.configs.changes(CHANNEL)] == ["layers 2"]


@pytest.mark.parametrize(("text", "expected"), [
    ("layers 0", "0 layers is out of range: use a number from 1 to 4, e.g. `/moa layers 3`. Nothing changed."),
    ("layers 99", "99 layers is out of range: use a number from 1 to 4, e.g. `/moa layers 3`. Nothing changed."),
    ("layers -1", "-1 layers is out of range: use a number from 1 to 4, e.g. `/moa layers 3`. Nothing changed."),
    ("layers abc", "`abc` is not a number of layers. Use a whole number from 1 to 4, e.g. `/moa layers 3`. "
                   "Nothing changed."),
    ("layers 2.5", "`2.5` is not a number of layers. Use a whole number from 1 to 4, e.g. `/moa layers 3`. "
                   "Nothing changed."),
    ("layers", "Say how many layers, e.g. `/moa layers 3`."),
    ("layers 2 3", "Say how many layers, e.g. `/moa layers 3`."),
])
async def test_bad_layer_counts_say_the_allowed_range_and_change_nothing(
        db: Database, deps: CommandDeps, text: str, expected: str) -> None:
    before = await state(db)
    assert await run(deps, text) == CommandReply(expected)
    assert await state(db) == before


async def test_layers_over_the_call_cap_names_the_cap(db: Database, catalog: Catalog) -> None:
    deps = CommandDeps(configs=db.configs, history=db, models=catalog, limits=Limits(max_calls=12))
    reply = await run(deps, "layers 4")
    assert reply.text == ("4 layers × 3 agents + the aggregator is 13 model calls per answer, over the limit of "
                          "12: use fewer layers or agents. Nothing changed.")
    assert await stored(db) is None


async def test_setting_the_same_layers_changes_nothing(db: Database, deps: CommandDeps) -> None:
    reply = await run(deps, "layers 3")
    assert reply == CommandReply("This channel already uses 3 layers; nothing to change.")
    assert await state(db) == (None, [], [])


# ---- admins only ------------------------------------------------------------------------------

CHANGING = ["layers 2", "model openai/gpt-oss-20b", "agents add critic openai/gpt-oss-20b",
            "agents remove layer_agent_1", "agents set layer_agent_1 temperature 0.1", "preset lite",
            'import {"layer_agent_1": {"system_prompt": "Hi {helper_response}", "model_name": "openai/gpt-oss-20b"}}',
            "reset", "forget"]


@pytest.mark.parametrize("text", CHANGING)
async def test_non_admin_cannot_change_anything_and_nothing_changes(
        db: Database, deps: CommandDeps, catalog: Catalog, text: str) -> None:
    await db.configs.put(CHANNEL, preset("article").export_json(), "UADMIN", "preset article")
    await db.turns.add(CHANNEL, "t1", "user", "U2", "Is 9.11 or 9.9 larger?")
    before = await state(db)
    asker = Asker(admin=False, user="U2")
    reply = await execute(asker.ctx, text, deps)
    assert reply == CommandReply(ADMIN_REFUSAL)
    assert ADMIN_REFUSAL == (
        "Only channel admins can change the MoA setup here (Discord: Manage Channels; Slack: workspace admins "
        "or SLACK_ADMIN_USERS). `/moa show` works for everyone.")
    assert await state(db) == before
    assert asker.admin_checks == 1 and catalog.asked == []


@pytest.mark.parametrize("text", ["show", "agents", "presets", "export", "help", "nonsense"])
async def test_reading_commands_never_ask_for_admin_rights(deps: CommandDeps, text: str) -> None:
    asker = Asker(admin=False)
    reply = await execute(asker.ctx, text, deps)
    assert asker.admin_checks == 0 and reply.text != ADMIN_REFUSAL and not reply.changed


# ---- the aggregator and the live model list ----------------------------------------------------


async def test_admin_sets_the_aggregator_to_a_live_model(db: Database, deps: CommandDeps, catalog: Catalog) -> None:
    reply = await run(deps, "model groq/compound")
    assert reply == CommandReply("✅ Aggregator: `openai/gpt-oss-120b` → `groq/compound`. Now " + DEFAULT_CALLS,
                                 changed=True)
    config = await stored(db)
    assert config is not None and config.main_model == "groq/compound"
    assert catalog.asked == [["groq/compound"]]
    # a model the setup already uses needs no look-up
    assert (await run(deps, "model qwen/qwen3.8-27b")).changed
    assert catalog.asked == [["groq/compound"]]


async def test_model_names_are_forgiven_their_case(db: Database, deps: CommandDeps) -> None:
    reply = await run(deps, "aggregator OpenAI/GPT-OSS-20B")
    assert reply.text.startswith("✅ Aggregator: `openai/gpt-oss-120b` → `openai/gpt-oss-20b`.")
    config = await stored(db)
    assert config is not None and config.main_model == "openai/gpt-oss-20b"


@pytest.mark.parametrize(("text", "expected"), [
    ("model llama-3.3-70b-versatile", f"Unknown model `llama-3.3-70b-versatile`. {LIVE_LIST} Nothing changed."),
    ("model openai/gpt-oss-12b",
     f"Unknown model `openai/gpt-oss-12b`. Did you mean `openai/gpt-oss-120b`? {LIVE_LIST} Nothing changed."),
    ("model", "Name the aggregator model, e.g. `/moa model openai/gpt-oss-120b`."),
])
async def test_unknown_aggregator_lists_live_models_and_changes_nothing(
        db: Database, deps: CommandDeps, text: str, expected: str) -> None:
    assert await run(deps, text) == CommandReply(expected)
    assert await state(db) == (None, [], [])


async def test_when_the_model_list_is_unreachable_nothing_changes(
        db: Database, deps: CommandDeps, catalog: Catalog) -> None:
    catalog.down = True
    reply = await run(deps, "model groq/compound")
    assert reply == CommandReply("I couldn't fetch the live model list to check the model (Groq is unreachable). "
                                 "Try again in a minute. Nothing changed.")
    assert await state(db) == (None, [], [])
    assert (await run(deps, "layers 2")).changed  # changes that add no model still work


# ---- agents ----------------------------------------------------------------------------------


async def test_agents_lists_each_agent_with_model_temperature_and_prompt(deps: CommandDeps) -> None:
    reply = await run(deps, "agents", admin=False)
    assert reply.text.startswith("*Agents* (3, each answers once per layer):\n"
                                 "• *layer_agent_1*: `openai/gpt-oss-20b`, temperature 0.7, max 1,024 tokens — "
                                 "“Think through your response step by step. {helper_response}”\n")


async def test_admin_adds_an_agent_with_a_temperature(db: Database, deps: CommandDeps) -> None:
    reply = await run(deps, "agents add critic qwen/qwen3.8-27b 0.3")
    assert reply == CommandReply(
        "✅ Added agent `critic`: `qwen/qwen3.8-27b`, temperature 0.3, the default prompt. Now 13 model calls per "
        "answer (3 layers × 4 agents + the aggregator).", changed=True)
    config = await stored(db)
    assert config is not None and list(config.layer_agent_config)[-1] == "critic"
    critic = config.layer_agent_config["critic"]
    assert (critic.model_name, critic.temperature, critic.system_prompt) == (
        "qwen/qwen3.8-27b", 0.3, "You are a helpful assistant. {helper_response}")


@pytest.mark.parametrize(("text", "expected"), [
    ("agents add layer_agent_1 openai/gpt-oss-20b",
     "There is already an agent called `layer_agent_1`; pick another name or change it with "
     "`/moa agents set layer_agent_1 model MODEL`. Nothing changed."),
    ("agents add critic openai/gpt-oss-20b 5",
     "Temperature must be a number from 0 to 2, e.g. 0.7 (not `5`). Nothing changed."),
    ("agents add critic openai/gpt-oss-20b hot",
     "Temperature must be a number from 0 to 2, e.g. 0.7 (not `hot`). Nothing changed."),
    ("agents add critic gpt-5", f"Unknown model `gpt-5`. {LIVE_LIST} Nothing changed."),
    ("agents add critic",
     "Usage: `/moa agents add NAME MODEL [TEMPERATURE]`, e.g. `/moa agents add critic openai/gpt-oss-20b 0.3`."),
    ("agents add " + "n" * 41 + " openai/gpt-oss-20b",
     "Agent names are at most 40 characters; pick a shorter one. Nothing changed."),
    ("agents remove nobody",
     "There is no agent called `nobody`. Agents here: `layer_agent_1`, `layer_agent_2`, `layer_agent_3`. "
     "Nothing changed."),
    ("agents set nobody temperature 1",
     "There is no agent called `nobody`. Agents here: `layer_agent_1`, `layer_agent_2`, `layer_agent_3`. "
     "Nothing changed."),
    ("agents set layer_agent_1 colour blue",
     "Agents have `model`, `temperature`, `prompt` and `max_tokens`, not `colour`. Usage: `/moa agents set NAME "
     "model MODEL`, `… temperature 0.5`, `… max_tokens 1024` or `… prompt TEXT with {helper_response}`."),
    ("agents set layer_agent_1 temperature -0.5",
     "Temperature must be a number from 0 to 2, e.g. 0.7 (not `-0.5`). Nothing changed."),
    ("agents set layer_agent_1 max_tokens 0",
     "max_tokens must be a whole number from 1 to 32768, e.g. 1024 (not `0`). Nothing changed."),
    ("agents set layer_agent_1 model nope/nope", f"Unknown model `nope/nope`. {LIVE_LIST} Nothing changed."),
    ("agents set layer_agent_1 model", "Usage: `/moa agents set NAME model MODEL`, `… temperature 0.5`, "
     "`… max_tokens 1024` or `… prompt TEXT with {helper_response}`."),
    ("agents dance", "Unknown agents command `dance`. Try `/moa agents` (list), `/moa agents add NAME MODEL "
     "[TEMPERATURE]`, e.g. `/moa agents add critic openai/gpt-oss-20b 0.3`, `/moa agents remove NAME` or "
     "`/moa agents set NAME model MODEL`, `… temperature 0.5`, `… max_tokens 1024` or "
     "`… prompt TEXT with {helper_response}`."),
])
async def test_bad_agent_edits_say_what_works_and_change_nothing(
        db: Database, deps: CommandDeps, text: str, expected: str) -> None:
    before = await state(db)
    assert await run(deps, text) == CommandReply(expected)
    assert await state(db) == before


async def test_adding_past_the_agent_limit_is_refused(db: Database, catalog: Catalog) -> None:
    deps = CommandDeps(configs=db.configs, history=db, models=catalog, limits=Limits(max_agents=3))
    reply = await run(deps, "agents add critic openai/gpt-oss-20b")
    assert reply.text == ("This channel already has 3 agents, the most allowed; remove one first with "
                          "`/moa agents remove NAME`. Nothing changed.")
    assert await stored(db) is None


async def test_admin_removes_an_agent_but_never_the_last(db: Database, deps: CommandDeps) -> None:
    assert await run(deps, "agents remove LAYER_AGENT_2") == CommandReply(
        "✅ Removed agent `layer_agent_2`. Now 7 model calls per answer (3 layers × 2 agents + the aggregator).",
        changed=True)
    assert (await run(deps, "agents rm layer_agent_3")).changed
    before = await state(db)
    assert await run(deps, "agents remove layer_agent_1") == CommandReply(
        "`layer_agent_1` is the only agent, and a MoA setup needs at least one. Add another first with "
        "`/moa agents add NAME MODEL [TEMPERATURE]`, e.g. `/moa agents add critic openai/gpt-oss-20b 0.3`. "
        "Nothing changed.")
    assert await state(db) == before
    config = await stored(db)
    assert config is not None and list(config.layer_agent_config) == ["layer_agent_1"]


@pytest.mark.parametrize(("text", "reply", "field", "value"), [
    ("agents set layer_agent_1 model qwen/qwen3.8-27b", "Agent `layer_agent_1` model: `qwen/qwen3.8-27b`.",
     "model_name", "qwen/qwen3.8-27b"),
    ("agents set layer_agent_1 temperature 1.2", "Agent `layer_agent_1` temperature: 1.2.", "temperature", 1.2),
    ("agents set layer_agent_1 temp 0,4", "Agent `layer_agent_1` temperature: 0.4.", "temperature", 0.4),
    ("agents set layer_agent_1 max_tokens 2,048", "Agent `layer_agent_1` max_tokens: 2,048.", "max_tokens", 2048),
    ("agents set layer_agent_1 prompt Be terse. {helper_response}", "Agent `layer_agent_1` prompt: updated.",
     "system_prompt", "Be terse. {helper_response}"),
    ('agents set layer_agent_1 prompt “Be terse.”',
     "Agent `layer_agent_1` prompt: updated. I added {helper_response} at the end: that is where the previous "
     "layer's answers go.", "system_prompt", "Be terse. {helper_response}"),
])
async def test_admin_sets_an_agent_field(db: Database, deps: CommandDeps, text: str, reply: str,
                                         field: str, value: object) -> None:
    assert await run(deps, text) == CommandReply(f"✅ {reply} Now {DEFAULT_CALLS}", changed=True)
    config = await stored(db)
    assert config is not None
    assert getattr(config.layer_agent_config["layer_agent_1"], field) == value
    assert config.layer_agent_config["layer_agent_2"] == default_config().layer_agent_config["layer_agent_2"]


async def test_multiline_prompt_is_kept_as_written(db: Database, deps: CommandDeps) -> None:
    await run(deps, "agents set layer_agent_1 prompt Line one.\nLine two: {helper_response}")
    config = await stored(db)
    assert config is not None
    assert config.layer_agent_config["layer_agent_1"].system_prompt == "Line one.\nLine two: {helper_response}"


async def test_concurrent_edits_by_two_admins_both_survive(db: Database, deps: CommandDeps) -> None:
    replies = await asyncio.gather(run(deps, "agents add a openai/gpt-oss-20b"),
                                   run(deps, "agents add b openai/gpt-oss-20b"))
    assert all(r.changed for r in replies)
    config = await stored(db)
    assert config is not None and {"a", "b"} <= set(config.layer_agent_config)


# ---- presets ---------------------------------------------------------------------------------


async def test_presets_lists_names_descriptions_and_the_one_in_use(deps: CommandDeps) -> None:
    reply = await run(deps, "presets", admin=False)
    assert reply.text.split("\n") == [
        "*Presets* (use one with `/moa preset NAME`):",
        "• `article` — the seed article's three agents on today's Groq models, 3 layers (10 calls) ← in use here",
        "• `lite` — MoA-Lite: one proposer layer of two models, then the aggregator (3 calls)",
        "• `deep` — the paper's best shape: 3 layers × 6 diverse proposers (19 calls)",
        "• `self-moa` — Self-MoA: the strongest model sampled 4× at varied temperatures, 1 layer (5 calls)",
    ]


async def test_admin_switches_to_a_preset(db: Database, deps: CommandDeps) -> None:
    reply = await run(deps, "preset Lite")
    assert reply == CommandReply("✅ Preset `lite`: MoA-Lite: one proposer layer of two models, then the "
                                 "aggregator (3 calls). Now 3 model calls per answer (1 layer × 2 agents + the "
                                 "aggregator).", changed=True)
    assert await stored(db) == preset("lite")


@pytest.mark.parametrize(("text", "expected", "limits"), [
    ("preset nope", "There is no preset called 'nope'. Presets: article, lite, deep, self-moa. Nothing changed.",
     Limits()),
    ("preset", "Name a preset, e.g. `/moa preset lite`. Presets: article, lite, deep, self-moa.", Limits()),
    ("preset deep", "3 layers × 6 agents + the aggregator is 19 model calls per answer, over the limit of 12: "
                    "use fewer layers or agents. Nothing changed.", Limits(max_calls=12)),
])
async def test_bad_presets_change_nothing(db: Database, catalog: Catalog, text: str, expected: str,
                                          limits: Limits) -> None:
    deps = CommandDeps(configs=db.configs, history=db, models=catalog, limits=limits)
    assert await run(deps, text) == CommandReply(expected)
    assert await state(db) == (None, [], [])


async def test_a_preset_with_a_retired_model_is_refused(db: Database, deps: CommandDeps, catalog: Catalog) -> None:
    catalog.live = ["openai/gpt-oss-120b", "openai/gpt-oss-20b"]
    reply = await run(deps, "preset lite")
    assert reply.text == ("Unknown model `qwen/qwen3.8-27b`. Live models: openai/gpt-oss-120b, "
                          "openai/gpt-oss-20b. Nothing changed.")
    assert await stored(db) is None


# ---- import / export -------------------------------------------------------------------------

SEED = """```json
{
  “layer_agent_1”: {“system_prompt”: “Think step by step. {helper_response}”, “model_name”: “openai/gpt-oss-20b”},
  “layer_agent_2”: {“system_prompt”: “Be critical. {helper_response}”, “model_name”: “qwen/qwen3.8-27b”,
                    “temperature”: 0.3}
}
```"""


async def test_import_takes_the_seed_format_pasted_with_fences_and_smart_quotes(
        db: Database, deps: CommandDeps) -> None:
    await run(deps, "layers 2")
    reply = await run(deps, "import " + SEED)
    assert reply == CommandReply(
        "✅ Imported: 2 layers, aggregator `openai/gpt-oss-120b`, agents layer_agent_1 (`openai/gpt-oss-20b`), "
        "layer_agent_2 (`qwen/qwen3.8-27b`). Now 5 model calls per answer (2 layers × 2 agents + the aggregator).",
        changed=True)
    config = await stored(db)
    assert config is not None and config.cycles == 2  # the bare agents object keeps the rest
    assert config.layer_agent_config["layer_agent_2"].temperature == 0.3


async def test_import_reads_the_demo_format_and_the_articles_translated_keys(db: Database, deps: CommandDeps) -> None:
    demo = {"main_model": "openai/gpt-oss-20b", "cycles": 1, "layer_agent_config": {
        "a": {"系统提示": "逐步思考。{助手回应}", "模型名称": "qwen/qwen3.8-27b", "温度": 0.5}}}
    reply = await run(deps, "import " + json.dumps(demo, ensure_ascii=False))
    assert reply.changed
    config = await stored(db)
    assert config is not None and config.main_model == "openai/gpt-oss-20b"
    assert config.layer_agent_config["a"].system_prompt == "逐步思考。{helper_response}"


@pytest.mark.parametrize(("payload", "expected"), [
    ('{"layer_agent_1": {"model_name": "openai/gpt-oss-20b"', "That is not valid JSON (Expecting ',' delimiter at "
     "line 1, column 54). Paste an object like {\"layer_agent_1\": {\"system_prompt\": \"… {helper_response}\", "
     "\"model_name\": \"openai/gpt-oss-20b\"}}. Nothing changed."),
    ("[1, 2]", "A MoA config must be a JSON object, e.g. {\"main_model\": …, \"cycles\": 3, \"layer_agent_config\": "
     "{…}}. Nothing changed."),
    ('{"cycles": 0}', "Invalid MoA config — cycles: Input should be greater than or equal to 1. Nothing changed."),
    ('{"a": {"model_name": "openai/gpt-oss-20b", "api_key": "gsk_x"}}',
     "Invalid MoA config — layer_agent_config.a.api_key: unknown field (known fields: system_prompt, model_name, "
     "temperature, max_tokens). Nothing changed."),
    ('{"a": {"system_prompt": "no slot", "model_name": "openai/gpt-oss-20b"}}',
     "Invalid MoA config — layer_agent_config.a.system_prompt: must contain {helper_response}, where the previous "
     "layer's answers go. Nothing changed."),
    ('{"a": {"model_name": "llama-3.1-8b-instant"}}', f"Unknown model `llama-3.1-8b-instant`. {LIVE_LIST} "
     "Nothing changed."),
    ('{"cycles": 99}', "cycles is 99, but at most 4 layers are allowed: use a number from 1 to 4. Nothing changed."),
])
async def test_bad_imports_say_what_is_wrong_and_change_nothing(
        db: Database, deps: CommandDeps, payload: str, expected: str) -> None:
    assert await run(deps, "import " + payload) == CommandReply(expected)
    assert await state(db) == (None, [], [])


async def test_import_without_json_shows_an_example(db: Database, deps: CommandDeps) -> None:
    reply = await run(deps, "import")
    assert reply.text.startswith("Paste the JSON after `/moa import`, e.g. `/moa import {\"layer_agent_1\"")
    assert reply.text.endswith("`/moa export` shows the current setup as JSON.")
    assert await state(db) == (None, [], [])


async def test_over_long_input_is_refused_before_anything_else(db: Database, deps: CommandDeps) -> None:
    asker = Asker(admin=True)
    text = "import " + json.dumps({"a": {"system_prompt": "x" * MAX_COMMAND_CHARS, "model_name": "m"}})
    reply = await execute(asker.ctx, text, deps)
    assert reply == CommandReply(f"That command is {len(text):,} characters; the limit is 20,000. Shorten the "
                                 "prompts or import fewer agents. Nothing changed.")
    assert asker.admin_checks == 0 and await state(db) == (None, [], [])


async def test_export_is_json_in_a_code_block_that_imports_back_unchanged(
        db: Database, deps: CommandDeps) -> None:
    await run(deps, "preset self-moa")
    await run(deps, "agents set sample_1 prompt Vary your angle. {helper_response}")
    reply = await run(deps, "export", admin=False)
    head, _, rest = reply.text.partition("\n```json\n")
    assert head.startswith("*MoA setup* — this channel's own setup (set by <@U1>, ")
    assert head.endswith("Paste it after `/moa import` to use it elsewhere.")
    body = rest.removesuffix("\n```")
    exported = MoaConfig.model_validate_json(body)
    assert exported == await stored(db)
    assert await run(deps, "import " + reply.text.partition("\n")[2], channel=OTHER) == CommandReply(
        "✅ Imported: 1 layer, aggregator `openai/gpt-oss-120b`, agents sample_1 (`openai/gpt-oss-120b`), sample_2 "
        "(`openai/gpt-oss-120b`), sample_3 (`openai/gpt-oss-120b`), sample_4 (`openai/gpt-oss-120b`). Now 5 model "
        "calls per answer (1 layer × 4 agents + the aggregator).", changed=True)
    assert await stored(db, OTHER) == exported


async def test_export_never_shows_a_secret(db: Database, deps: CommandDeps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk_" + "A1b2" * 10)
    key = "gsk_" + "A1b2" * 10
    await run(deps, f"agents set layer_agent_1 prompt Use key {key} please. {{helper_response}}")
    for text in ("export", "show", "agents"):
        reply = await run(deps, text)
        assert key not in reply.text and "gsk_" not in reply.text
    assert "[redacted]" in (await run(deps, "export")).text
    assert set(json.loads(default_config().export_json())) == {
        "main_model", "cycles", "layer_agent_config", "system_prompt", "aggregate_prompt", "temperature",
        "max_tokens"}


# ---- reset / forget --------------------------------------------------------------------------


async def test_reset_goes_back_to_the_builtin_default(db: Database, deps: CommandDeps) -> None:
    await run(deps, "preset lite")
    reply = await run(deps, "reset")
    assert reply == CommandReply("✅ Reset: this channel now uses the built-in default: 3 layers, aggregator "
                                 f"`openai/gpt-oss-120b`, 3 agents. Now {DEFAULT_CALLS}", changed=True)
    assert await stored(db) is None
    assert [c.summary for c in await db.configs.changes(CHANNEL)] == ["reset", "preset lite"]


async def test_reset_goes_back_to_the_workspace_default(db: Database, deps: CommandDeps) -> None:
    await db.configs.put(CHANNEL.workspace_default(), preset("lite").export_json(), "UADMIN", "preset lite")
    await run(deps, "layers 2")
    reply = await run(deps, "reset")
    assert reply.text.startswith("✅ Reset: this channel now uses the workspace default (set by <@UADMIN>, ")
    assert reply.text.endswith("1 layer, aggregator `openai/gpt-oss-120b`, 2 agents. Now 3 model calls per answer "
                               "(1 layer × 2 agents + the aggregator).")


async def test_reset_without_a_channel_setup_changes_nothing(db: Database, deps: CommandDeps) -> None:
    assert await run(deps, "reset") == CommandReply(
        "This channel has no setup of its own; it already uses the built-in default. Nothing to reset.")
    assert await state(db) == (None, [], [])
    assert (await run(deps, "reset now")).text == "`/moa reset` takes nothing after it."


async def test_forget_deletes_this_channels_history_and_says_how_much(db: Database, deps: CommandDeps) -> None:
    await db.turns.add(CHANNEL, "t1", "user", "U2", "Is 9.11 or 9.9 larger?")
    await db.turns.add(CHANNEL, "t1", "assistant", "bot", "9.9 is larger.")
    await db.runs.start(CHANNEL, "t1", "m1", "Is 9.11 or 9.9 larger?", default_config().export_json())
    await db.turns.add(OTHER, "t9", "user", "U2", "Keep me")
    await run(deps, "layers 2")
    reply = await run(deps, "forget")
    assert reply == CommandReply("🧹 Forgot this channel's history: 3 stored items (messages and runs) deleted. "
                                 "The MoA setup is unchanged.", changed=True)
    assert await db.turns.history(CHANNEL, "t1", 10_000) == []
    assert [t.text for t in await db.turns.history(OTHER, "t9", 10_000)] == ["Keep me"]
    config = await stored(db)
    assert config is not None and config.cycles == 2
    assert await run(deps, "forget") == CommandReply(
        "There is no stored history for this channel; nothing to forget.")
