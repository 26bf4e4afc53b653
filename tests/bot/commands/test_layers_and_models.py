"""`/moa layers N` and `/moa model MODEL`, checked against the limits and the live model list."""

from __future__ import annotations

import pytest

from bot.commands import CommandDeps
from bot.conversation.service import CommandReply
from moa.config.schema import Limits, default_config
from storage.db import Database
from tests.bot.commands.helpers import CHANNEL, DEFAULT_CALLS, LIVE_LIST, Catalog, run, state, stored


@pytest.mark.parametrize("text", ["layers 2", "LAYERS 2", "/moa layers 2", "Layers `2`", "cycles 2"])
async def test_admin_sets_layers_and_it_is_stored(db: Database, deps: CommandDeps, text: str) -> None:
    reply = await run(deps, text)
    assert reply == CommandReply(
        "✅ Layers: 3 → 2. Now 7 model calls per answer (2 layers × 3 agents + the aggregator).", changed=True)
    config = await stored(db)
    assert config is not None and config.layers == 2
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
