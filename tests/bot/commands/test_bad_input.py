"""Hostile or odd input to `/moa`: each gets a sentence and changes nothing."""

from __future__ import annotations

import json

import pytest

from bot.commands import NOTHING_CHANGED, CommandDeps
from storage.db import Database
from tests.bot.commands.helpers import run, state, stored

HUGE = "9" * 5000  # over Python's 4,300-digit int() limit


@pytest.mark.parametrize("command", [
    "import " + "[" * 2500 + "]" * 2500,
    "import {\"layer_agent_config\": " + "{\"a\": " * 2100 + "1" + "}" * 2100 + "}",
    f"import {{\"cycles\": {HUGE}}}",
    f"import {{\"layer_agent_1\": {{\"model_name\": \"openai/gpt-oss-20b\", \"max_tokens\": {HUGE}}}}}",
    f"layers {HUGE}",
    f"agents set layer_agent_1 max_tokens {HUGE}",
    f"agents set layer_agent_1 temperature {HUGE}",
], ids=["deep-array", "deep-object", "huge-cycles", "huge-max-tokens-import", "huge-layers", "huge-max-tokens",
        "huge-temperature"])
async def test_absurd_json_and_numbers_get_a_sentence_and_change_nothing(
        db: Database, deps: CommandDeps, command: str) -> None:
    before = await state(db)
    reply = await run(deps, command)
    assert not reply.changed
    assert "Something went wrong" not in reply.text and len(reply.text) < 400
    assert NOTHING_CHANGED in reply.text
    assert await state(db) == before


async def test_importing_only_aggregator_fields_changes_just_those(db: Database, deps: CommandDeps) -> None:
    reply = await run(deps, 'import {"temperature": 0.3}')
    assert reply.changed, reply.text
    config = await stored(db)
    assert config is not None and config.temperature == 0.3
    assert list(config.layer_agent_config) == ["layer_agent_1", "layer_agent_2", "layer_agent_3"]


LOOKALIKE = "ｌａｙｅｒ＿ａｇｅｎｔ＿１"  # full-width: reads as layer_agent_1


@pytest.mark.parametrize("name", ["\u200b\u200b", "fast\u200b", "\u202eevil", "two\twords", LOOKALIKE],
                         ids=["zero-width-only", "zero-width-suffix", "rtl-override", "tab", "lookalike"])
async def test_agent_names_must_be_visible_distinct_and_addressable(
        db: Database, deps: CommandDeps, name: str) -> None:
    before = await state(db)
    agents = {"layer_agent_1": {"model_name": "openai/gpt-oss-20b"}, name: {"model_name": "openai/gpt-oss-20b"}}
    for command in (f"agents add {name} openai/gpt-oss-20b", f"import {json.dumps(agents)}"):
        reply = await run(deps, command)
        assert not reply.changed, (command, reply.text)
        assert NOTHING_CHANGED in reply.text or "already" in reply.text or "Usage" in reply.text, reply.text
    assert await state(db) == before
