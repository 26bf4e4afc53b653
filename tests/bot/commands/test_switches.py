"""`/moa early-exit on|off` and `/moa early-answer on|off`: admins only, kept by export and import."""

from __future__ import annotations

import json

import pytest

from bot.commands import ADMIN_REFUSAL, CommandDeps
from bot.conversation.service import CommandReply
from storage.db import Database
from tests.bot.commands.helpers import DEFAULT_CALLS, run, state, stored

SWITCHES = [("early-exit", "early_exit"), ("early-answer", "early_answer")]


@pytest.mark.parametrize(("word", "key"), SWITCHES)
async def test_an_admin_turns_a_switch_on_and_off(db: Database, deps: CommandDeps, word: str, key: str) -> None:
    assert await run(deps, f"{word} on") == CommandReply(
        f"✅ {word.capitalize()}: on. Now {DEFAULT_CALLS}", changed=True)
    config = await stored(db)
    assert config is not None and getattr(config, key) is True
    assert (await run(deps, f"{word} on")).text == f"{word} is already on here; nothing to change."
    assert (await run(deps, f"{word} off")).changed
    config = await stored(db)
    assert config is not None and getattr(config, key) is False


@pytest.mark.parametrize(("word", "key"), SWITCHES)
async def test_a_member_cannot_flip_a_switch(db: Database, deps: CommandDeps, word: str, key: str) -> None:
    before = await state(db)
    reply = await run(deps, f"{word} on", admin=False)
    assert reply == CommandReply(ADMIN_REFUSAL)
    assert await state(db) == before


@pytest.mark.parametrize(("text", "expected"), [
    ("early-exit maybe",
     "`/moa early-exit` takes on or off (not `maybe`), e.g. `/moa early-exit on`. Nothing changed."),
    ("early-answer", "Say on or off, e.g. `/moa early-answer on`."),
    ("early-answer on now", "Say on or off, e.g. `/moa early-answer on`."),
])
async def test_a_bad_switch_value_is_a_sentence_and_changes_nothing(db: Database, deps: CommandDeps, text: str,
                                                                    expected: str) -> None:
    before = await state(db)
    assert await run(deps, text) == CommandReply(expected)
    assert await state(db) == before


async def test_export_carries_the_switches_and_import_brings_them_back(db: Database, deps: CommandDeps) -> None:
    await run(deps, "early-exit on")
    await run(deps, "early-answer on")
    exported = (await run(deps, "export", admin=False)).text
    data = json.loads(exported[exported.index("{"):exported.rindex("}") + 1])
    assert data["early_exit"] is True and data["early_answer"] is True
    await run(deps, "reset")
    config = await stored(db)
    assert config is None
    assert (await run(deps, "import " + json.dumps(data))).changed
    config = await stored(db)
    assert config is not None and config.early_exit and config.early_answer
    # an import that does not name the switches keeps the channel's
    agents = {"a": {"model_name": "openai/gpt-oss-20b"}}
    assert (await run(deps, "import " + json.dumps(agents))).changed
    config = await stored(db)
    assert config is not None and config.early_exit and config.early_answer


async def test_the_fast_preset_turns_both_on_and_show_says_so(db: Database, deps: CommandDeps) -> None:
    assert (await run(deps, "preset fast")).changed
    config = await stored(db)
    assert config is not None and config.early_exit and config.early_answer
    assert "• Early exit: on · early answer: on" in (await run(deps, "show", admin=False)).text
