"""`/moa reset` (back to the default) and `/moa forget` (delete the history)."""

from __future__ import annotations

from bot.commands import CommandDeps
from bot.conversation.service import CommandReply
from moa.config.schema import default_config, preset
from storage.db import Database
from tests.bot.commands.helpers import CHANNEL, DEFAULT_CALLS, OTHER, run, state, stored


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
    assert config is not None and config.layers == 2
    assert await run(deps, "forget") == CommandReply(
        "There is no stored history for this channel; nothing to forget.")
