"""Running a command: who may change things, input size, and edits that race."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.commands import ADMIN_REFUSAL, MAX_COMMAND_CHARS, CommandDeps, execute
from bot.conversation.service import CommandReply
from moa.config.schema import preset
from storage.db import Database
from tests.bot.commands.helpers import CHANNEL, Asker, Catalog, run, state, stored

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


async def test_over_long_input_is_refused_before_anything_else(db: Database, deps: CommandDeps) -> None:
    asker = Asker(admin=True)
    text = "import " + json.dumps({"a": {"system_prompt": "x" * MAX_COMMAND_CHARS, "model_name": "m"}})
    reply = await execute(asker.ctx, text, deps)
    assert reply == CommandReply(f"That command is {len(text):,} characters; the limit is 20,000. Shorten the "
                                 "prompts or import fewer agents. Nothing changed.")
    assert asker.admin_checks == 0 and await state(db) == (None, [], [])


async def test_concurrent_edits_by_two_admins_both_survive(db: Database, deps: CommandDeps) -> None:
    replies = await asyncio.gather(run(deps, "agents add a openai/gpt-oss-20b"),
                                   run(deps, "agents add b openai/gpt-oss-20b"))
    assert all(r.changed for r in replies)
    config = await stored(db)
    assert config is not None and {"a", "b"} <= set(config.layer_agent_config)
