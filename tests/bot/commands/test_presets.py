"""`/moa presets` and `/moa preset NAME`."""

from __future__ import annotations

import pytest

from bot.commands import CommandDeps
from bot.conversation.service import CommandReply
from moa.config.schema import Limits, preset
from storage.db import Database
from tests.bot.commands.helpers import Catalog, run, state, stored


async def test_presets_lists_names_descriptions_and_the_one_in_use(deps: CommandDeps) -> None:
    reply = await run(deps, "presets", admin=False)
    assert reply.text.split("\n") == [
        "*Presets* (use one with `/moa preset NAME`):",
        "• `article` — the seed article's three agents on today's Groq models, 3 layers (10 calls) ← in use here",
        "• `lite` — MoA-Lite: one proposer layer of two models, then the aggregator (3 calls)",
        "• `deep` — the paper's best shape: 3 layers × 6 diverse proposers (19 calls)",
        "• `self-moa` — Self-MoA: the strongest model sampled 4× at varied temperatures, 1 layer (5 calls)",
        "• `fast` — the article's agents with early exit and early answer: stops after layer 1 when they agree "
        "(4–11 calls)",
    ]


async def test_admin_switches_to_a_preset(db: Database, deps: CommandDeps) -> None:
    reply = await run(deps, "preset Lite")
    assert reply == CommandReply("✅ Preset `lite`: MoA-Lite: one proposer layer of two models, then the "
                                 "aggregator (3 calls). Now 3 model calls per answer (1 layer × 2 agents + the "
                                 "aggregator).", changed=True)
    assert await stored(db) == preset("lite")


@pytest.mark.parametrize(("text", "expected", "limits"), [
    ("preset nope", "There is no preset called 'nope'. Presets: article, lite, deep, self-moa, fast. Nothing changed.",
     Limits()),
    ("preset", "Name a preset, e.g. `/moa preset lite`. Presets: article, lite, deep, self-moa, fast.", Limits()),
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
