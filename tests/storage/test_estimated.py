"""Estimated tokens (a server that counted none) on both backends: the flag survives a reopen, the usage
rollups count estimated answers and calls (folded, and pending for read-only reports), and a copy from
SQLite to PostgreSQL keeps it."""

from __future__ import annotations

import time
from pathlib import Path

from storage import ChannelKey, Database, ProposerRecord
from storage.transfer import copy_sqlite_to_postgres
from storage.usage import day_of

CHANNEL = ChannelKey("slack", "T01", "C01")
CONFIG = '{"main_model": "local:tiny", "cycles": 1}'


async def _answer(db: Database, *, estimated: bool, proposer_estimated: bool = False) -> int:
    run_id = await db.runs.start(CHANNEL, "t", "m", "q?", CONFIG, config_label="local")
    proposers = [ProposerRecord(1, "a", "local:small", "hi", 0.5, 100, 20, None, usage_estimated=proposer_estimated),
                 ProposerRecord(1, "b", "local:small", "hey", 0.5, 110, 25, None)]
    await db.runs.finish(run_id, status="done", answer="a", error=None, proposers=proposers, total_s=2.0,
                         prompt_tokens=400, completion_tokens=80, cost_usd=0.0, usage_estimated=estimated)
    return run_id


async def test_the_estimated_flag_survives_a_reopen(db_target: str) -> None:
    first = await Database.open(db_target)
    guessed = await _answer(first, estimated=True, proposer_estimated=True)
    counted = await _answer(first, estimated=False)
    await first.close()

    again = await Database.open(db_target)
    try:
        run = await again.runs.get(guessed, CHANNEL)
        exact = await again.runs.get(counted, CHANNEL)
    finally:
        await again.close()
    assert run is not None and run.usage_estimated
    assert [p.usage_estimated for p in run.proposers] == [True, False]
    assert exact is not None and not exact.usage_estimated and not any(p.usage_estimated for p in exact.proposers)


async def test_usage_counts_estimated_answers_and_calls_folded_or_pending(db: Database) -> None:
    await _answer(db, estimated=True)  # only the aggregator's stream went uncounted
    await _answer(db, estimated=False)
    today = day_of(time.time())
    pending = (await db.usage.report([today], CHANNEL, pending=True))[0]
    await db.usage.fold()
    folded = (await db.usage.report([today], CHANNEL))[0]

    for period in (pending, folded):
        assert period.total.answers == 2 and period.total.estimated == 1
        assert {m.model: m.estimated for m in period.models.values()} == {"local:small": 0, "local:tiny": 1}


async def test_a_copy_to_postgresql_keeps_what_was_estimated(tmp_path: Path, postgres_url: str) -> None:
    source = await Database.open(tmp_path / "moa.db")
    run_id = await _answer(source, estimated=True, proposer_estimated=True)
    await source.usage.fold()
    target = await Database.open(postgres_url)
    try:
        await copy_sqlite_to_postgres(source, target)
        run = await target.runs.get(run_id, CHANNEL)
        total = (await target.usage.report([0], CHANNEL))[0].total
    finally:
        await source.close()
        await target.close()
    assert run is not None and run.usage_estimated and run.proposers[0].usage_estimated
    assert total.estimated == 1
