"""Usage rollups, votes and budgets on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage import ChannelKey, Database, ProposerRecord
from storage.usage import DAY_S, day_of

CHANNEL = ChannelKey("slack", "T01", "C01")
OTHER = ChannelKey("discord", "G01", "C02")
NOW = 1_790_000_000.0  # a fixed day; runs are placed relative to it
TODAY = day_of(NOW)
CONFIG = '{"main_model": "openai/gpt-oss-120b", "cycles": 1}'


def _proposers(n: int = 2, failed: int = 0) -> list[ProposerRecord]:
    out = [ProposerRecord(1, f"a{i}", "openai/gpt-oss-20b", "hi", 0.5, 100, 20, None) for i in range(n)]
    out += [ProposerRecord(1, f"f{i}", "qwen/qwen3.8-27b", "", 0.5, None, None, "429") for i in range(failed)]
    return out


async def _run(db: Database, *, channel: ChannelKey = CHANNEL, at: float = NOW, status: str = "done",
               total_s: float | None = 4.0, label: str = "article", author: str = "U1",
               cost: float | None = 0.001, failed: int = 0) -> int:
    run_id = await db.runs.start(channel, "t", "m", "q?", CONFIG, started_at=at, author=author, config_label=label)
    done = status == "done"
    await db.runs.finish(run_id, status=status, answer="a" if done else None,  # type: ignore[arg-type]
                         error=None if done else "boom", proposers=_proposers(failed=failed),
                         total_s=total_s if done else None, prompt_tokens=300 if done else 200,
                         completion_tokens=60 if done else 40, cost_usd=cost if done else None)
    return run_id


async def test_usage_counts_answers_calls_tokens_cost_and_failures_per_config_and_model(db: Database) -> None:
    await _run(db, total_s=2.0)
    await _run(db, total_s=10.0, label="lite", cost=None, failed=1)
    await _run(db, status="failed")
    await _run(db, at=NOW - 3 * DAY_S, total_s=6.0)  # earlier this week
    await _run(db, at=NOW - 20 * DAY_S)  # this month
    await _run(db, at=NOW - 40 * DAY_S)  # too old to show
    await _run(db, channel=OTHER)  # another channel

    assert await db.usage.fold() == 7
    month, week, today = await db.usage.report([TODAY - 29, TODAY - 6, TODAY], CHANNEL)

    assert (today.total.answers, today.total.failures) == (2, 1)
    assert (week.total.answers, month.total.answers) == (3, 4)
    # 2 proposers + the aggregator per answer, 3 proposers in the one with a failed agent, 2 in the failed run
    assert today.total.calls == 3 + 4 + 2
    assert today.total.prompt_tokens == 300 + 300 + 200 and today.total.completion_tokens == 60 + 60 + 40
    assert today.configs["lite"].unpriced == 1 and abs(today.configs["article"].cost_usd - 0.001) < 1e-9
    assert abs(today.total.median_s - 2.0) < 0.1 and abs(today.total.p95_s - 10.0) < 0.3
    models = today.models
    assert models["openai/gpt-oss-120b"].calls == 2  # the aggregator of the two answers
    assert models["openai/gpt-oss-120b"].prompt_tokens == 2 * (300 - 200)
    assert (models["qwen/qwen3.8-27b"].calls, models["qwen/qwen3.8-27b"].failures) == (1, 1)
    assert models["openai/gpt-oss-20b"].calls == 6


async def test_fold_counts_each_run_once_and_skips_runs_in_flight(db: Database) -> None:
    await _run(db)
    running = await db.runs.start(CHANNEL, "t", "m", "q?", CONFIG, started_at=NOW, config_label="article")
    assert await db.usage.fold() == 1
    assert await db.usage.fold() == 0
    await db.runs.finish(running, status="done", answer="a", error=None, proposers=[], total_s=1.0,
                         prompt_tokens=10, completion_tokens=5, cost_usd=0.0)
    assert await db.usage.fold() == 1
    [month] = await db.usage.report([TODAY - 29], CHANNEL)
    assert month.total.answers == 2


async def test_usage_outlives_pruning(db: Database) -> None:
    await _run(db, at=NOW - 10 * DAY_S)
    await db.prune(days=5, now=NOW)  # folds before it deletes
    [month] = await db.usage.report([TODAY - 29], CHANNEL)
    assert month.total.answers == 1


async def test_a_read_only_report_includes_runs_not_folded_yet(db: Database, db_target: str) -> None:
    await _run(db)
    await db.usage.fold()
    await _run(db, label="lite")
    reader = await Database.open_read_only(db_target)
    try:
        [today] = await reader.usage.report([TODAY], channel_id=CHANNEL.channel, pending=True)
    finally:
        await reader.close()
    assert set(today.configs) == {"article", "lite"}
    assert set(today.channels) == {("slack", "T01", "C01")}
    assert await db.usage.fold() == 1  # the reader wrote nothing


async def test_a_second_press_replaces_the_members_vote(db: Database) -> None:
    run_id = await _run(db)
    first = await db.votes.cast(CHANNEL, run_id, "U1", 1)
    again = await db.votes.cast(CHANNEL, run_id, "U1", 1)
    changed = await db.votes.cast(CHANNEL, run_id, "U1", -1)
    await db.votes.cast(CHANNEL, run_id, "U2", 1)

    assert first is not None and (first.previous, first.vote) == (None, 1)
    assert again is not None and not again.changed
    assert changed is not None and (changed.previous, changed.vote) == (1, -1)
    await db.usage.fold()
    [today] = await db.usage.report([TODAY], CHANNEL)
    assert (today.configs["article"].up, today.configs["article"].down) == (1, 1)


async def test_a_vote_on_another_channels_run_is_refused(db: Database) -> None:
    run_id = await _run(db, channel=OTHER)
    assert await db.votes.cast(CHANNEL, run_id, "U1", 1) is None
    assert await _shown_votes(db, CHANNEL) == await _shown_votes(db, OTHER) == (0, 0)


async def test_budgets_and_todays_use_survive_a_restart(db_target: str) -> None:
    first = await Database.open(db_target)
    await first.budgets.put(CHANNEL, member_answers=2, channel_tokens=None, changed_by="UADMIN")
    await _run(first, author="U1")
    await _run(first, author="U1", status="failed")  # failures don't use the member's answers
    await _run(first, author="U2")
    await _run(first, author="U1", at=NOW - DAY_S)  # yesterday
    await first.close()

    second = await Database.open(db_target)
    try:
        stored = await second.budgets.get(CHANNEL)
        used = await second.budgets.used(CHANNEL, "U1", now=NOW)
    finally:
        await second.close()
    assert stored is not None and (stored.member_answers, stored.channel_tokens) == (2, None)
    assert used.member_answers == 1
    assert used.channel_tokens == 360 + 240 + 360


async def test_migration_adds_usage_tables_to_an_existing_file(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.close()
    with sqlite3.connect(db_path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"votes", "budgets", "usage_configs", "usage_models", "usage_latency"} <= tables


async def test_cached_tokens_are_kept_beside_input_and_output(db: Database) -> None:
    proposers = [ProposerRecord(1, f"a{i}", "openai/gpt-oss-20b", "hi", 0.5, 100, 20, None, cached_tokens=80)
                 for i in range(2)]
    run_id = await db.runs.start(CHANNEL, "t", "m", "q?", CONFIG, started_at=NOW, config_label="article")
    await db.runs.finish(run_id, status="done", answer="a", error=None, proposers=proposers, total_s=1.0,
                         prompt_tokens=300, completion_tokens=60, cost_usd=0.001, cached_tokens=250)
    await _run(db)  # a run from before anything was cached: no cached tokens at all
    stored = await db.runs.get(run_id, CHANNEL)
    assert stored is not None and stored.cached_tokens == 250
    assert [p.cached_tokens for p in stored.proposers] == [80, 80]
    assert await db.usage.fold() == 2
    [today] = await db.usage.report([TODAY], CHANNEL)
    assert today.total.cached_tokens == 250 and today.total.prompt_tokens == 600
    assert today.models["openai/gpt-oss-20b"].cached_tokens == 160
    assert today.models["openai/gpt-oss-120b"].cached_tokens == 250 - 160  # the aggregator's share


async def test_twenty_alternating_presses_at_once_count_one_vote(db: Database) -> None:
    run_id = await _run(db)
    await asyncio.gather(*(db.votes.cast(CHANNEL, run_id, "U1", 1 if i % 2 else -1) for i in range(20)))
    up, down = await _shown_votes(db)
    assert up + down == 1  # one member, one vote


async def test_a_vote_from_nobody_is_refused(db: Database) -> None:
    run_id = await _run(db)
    with pytest.raises(ValueError, match="member"):
        await db.votes.cast(CHANNEL, run_id, "", 1)
    assert await _shown_votes(db) == (0, 0)


async def _shown_votes(db: Database, channel: ChannelKey = CHANNEL) -> tuple[int, int]:
    """(👍, 👎) on the article config today, as `/moa usage` shows them."""
    await db.usage.fold()
    [today] = await db.usage.report([TODAY], channel)
    arm = today.configs.get("article")
    return (arm.up, arm.down) if arm is not None else (0, 0)
