"""`/moa agents`: list, add, remove and set one field of a proposer."""

from __future__ import annotations

import pytest

from bot.commands import CommandDeps
from bot.conversation.service import CommandReply
from moa.config.schema import Limits, default_config
from storage.db import Database
from tests.bot.commands.helpers import DEFAULT_CALLS, LIVE_LIST, Catalog, run, state, stored


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


async def test_a_quoted_name_with_spaces_is_added_changed_and_removed_as_text(db: Database,
                                                                              deps: CommandDeps) -> None:
    added = await run(deps, 'agents add "fact checker" qwen/qwen3.8-27b')
    assert added.changed and "`fact checker`" in added.text
    changed = await run(deps, "agents set 'fact checker' prompt Check every \"fact\". {helper_response}")
    assert changed.changed, changed.text
    config = await stored(db)
    assert config is not None
    assert config.layer_agent_config["fact checker"].system_prompt == 'Check every "fact". {helper_response}'
    removed = await run(deps, "agents remove “fact checker”")
    assert removed.changed and "fact checker" not in ((await stored(db)) or default_config()).layer_agent_config


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
