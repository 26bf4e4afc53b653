from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from storage import SCHEMA_VERSION, ChannelKey, Database, ProposerRecord, SchemaTooNew
from tests.storage.backends import count_rows

CHANNEL = ChannelKey("slack", "T01", "C01")
OTHER_CHANNEL = ChannelKey("slack", "T01", "C02")
DAY = 86400.0
NOW = 1_800_000_000.0


async def _finish(db: Database, run_id: int) -> None:
    await db.runs.finish(
        run_id,
        status="done",
        answer="a",
        error=None,
        proposers=[],
        total_s=1.0,
        prompt_tokens=None,
        completion_tokens=None,
        cost_usd=None,
    )


async def test_new_file_is_wal_at_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "moa-bot.db"
    db = await Database.open(path)
    await db.close()

    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_runs_left_running_are_claimed_as_interrupted_after_a_restart(db_target: str) -> None:
    first = await Database.open(db_target)
    assert await first.runs.take_cut_off(first.owners.live_since(), by=first.owner) == []
    crashed = await first.runs.start(CHANNEL, "t", "M1", "q", "{}")
    finished = await first.runs.start(CHANNEL, "t", "M2", "q", "{}")
    await _finish(first, finished)
    await first.close()  # the process "dies" with one run in flight

    second = await Database.open(db_target)
    try:
        claimed = await second.runs.take_cut_off(second.owners.live_since(), by=second.owner)
        assert [(r.id, r.channel, r.thread, r.trigger_message_id) for r in claimed] == [
            (crashed, CHANNEL, "t", "M1")]  # who to tell, and where
        run = await second.runs.get(crashed, CHANNEL)
        done = await second.runs.get(finished, CHANNEL)
        assert run is not None and run.status == "interrupted"
        assert done is not None and done.status == "done"
        assert await second.runs.take_cut_off(second.owners.live_since(), by=second.owner) == []  # claimed once
    finally:
        await second.close()


async def test_a_replica_starting_on_postgresql_leaves_the_others_runs_running(postgres_url: str) -> None:
    first = await Database.open(postgres_url)
    try:
        answering = await first.runs.start(CHANNEL, "t", "M1", "q", "{}", owner=first.owner)
        second = await Database.open(postgres_url)  # another replica starts while the first answers
        try:
            assert await second.runs.take_cut_off(second.owners.live_since(), by=second.owner) == []
            run = await second.runs.get(answering, CHANNEL)
            assert run is not None and run.status == "running"
        finally:
            await second.close()
    finally:
        await first.close()


async def test_prune_removes_only_old_turns_and_runs(db: Database) -> None:
    await db.turns.add(CHANNEL, "t", "user", "U1", "old", created_at=NOW - 31 * DAY)
    await db.turns.add(CHANNEL, "t", "user", "U1", "recent", created_at=NOW - 29 * DAY)
    old_run = await db.runs.start(CHANNEL, "t", "M-old", "q", "{}", started_at=NOW - 31 * DAY)
    await db.runs.set_answer_messages(old_run, ["M-old-answer"])
    new_run = await db.runs.start(CHANNEL, "t", "M-new", "q", "{}", started_at=NOW - DAY)
    await db.configs.put(CHANNEL, '{"layers": 2}', "U-admin", "layers 2")

    removed = await db.prune(days=30, now=NOW)

    assert removed == 2
    assert [t.text for t in await db.turns.history(CHANNEL, "t", 1000)] == ["recent"]
    assert await db.runs.get(old_run, CHANNEL) is None
    assert await db.runs.find_by_message(CHANNEL, "M-old-answer") is None
    assert await db.runs.get(new_run, CHANNEL) is not None
    assert await db.configs.get(CHANNEL) is not None  # configs are not history


async def test_prune_takes_proposer_outputs_with_the_run(db: Database) -> None:
    run_id = await db.runs.start(CHANNEL, "t", "M1", "q", "{}", started_at=NOW - 40 * DAY)
    await db.runs.finish(
        run_id,
        status="done",
        answer="a",
        error=None,
        proposers=[ProposerRecord(1, "a", "m", "text", 0.1, 1, 1, None)],
        total_s=None,
        prompt_tokens=None,
        completion_tokens=None,
        cost_usd=None,
    )
    await db.runs.set_answer_messages(run_id, ["M-answer"])

    await db.prune(days=30, now=NOW)

    assert await count_rows(db, "proposer_outputs") == 0
    assert await count_rows(db, "answer_messages") == 0


async def test_a_proposers_wait_for_its_server_is_kept_apart_from_its_time(db: Database) -> None:
    run_id = await db.runs.start(CHANNEL, "t", "M1", "q", "{}", started_at=NOW)
    await db.runs.finish(run_id, status="done", answer="a", error=None,
                         proposers=[ProposerRecord(1, "a", "local:tiny", "first", 4.9, 1, 1, None),
                                    ProposerRecord(1, "b", "local:tiny", "second", 10.95, 1, 1, None, queued_s=6.05)],
                         total_s=12.0, prompt_tokens=None, completion_tokens=None, cost_usd=None)
    run = await db.runs.get(run_id, CHANNEL)
    assert run is not None
    assert [(p.latency_s, p.queued_s) for p in run.proposers] == [(4.9, 0.0), (10.95, 6.05)]


async def test_forget_deletes_the_channels_history_in_every_thread(db: Database) -> None:
    for thread in ("A", "B"):
        await db.turns.add(CHANNEL, thread, "user", "U1", f"hello from {thread}")
        await db.runs.start(CHANNEL, thread, f"M-{thread}", "q", "{}")
    await db.turns.add(OTHER_CHANNEL, "A", "user", "U1", "keep me")
    kept_run = await db.runs.start(OTHER_CHANNEL, "A", "M-other", "q", "{}")
    await db.configs.put(CHANNEL, '{"layers": 2}', "U-admin", "layers 2")

    removed = await db.forget(CHANNEL)

    assert removed == 4
    assert not await db.turns.has_thread(CHANNEL, "A")
    assert not await db.turns.has_thread(CHANNEL, "B")
    assert await db.runs.latest(CHANNEL) is None
    assert await db.turns.has_thread(OTHER_CHANNEL, "A")
    assert await db.runs.get(kept_run, OTHER_CHANNEL) is not None
    assert await db.configs.get(CHANNEL) is not None


async def test_file_from_a_newer_version_is_refused(db_path: Path) -> None:
    with closing(sqlite3.connect(db_path)) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(SchemaTooNew):
        await Database.open(db_path)
