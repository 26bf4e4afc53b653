"""Storage hot paths on a real SQLite file and a real PostgreSQL over loopback: prints median timings and
whether the targets are met (SQLite ≤ 2 ms, PostgreSQL ≤ 5 ms).

Run: python bench/storage.py [--rounds N] [--postgres URL]
PostgreSQL: the URL given, else MOA_TEST_DATABASE_URL, else a throwaway local server (tests/postgres.py) with
PostgreSQL's default durability (fsync and synchronous commit on), in a schema of its own that is dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

# Run as a script, this file's directory comes first on sys.path and this file would shadow the
# `storage` package; put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from storage import ChannelKey, Database, ProposerRecord  # noqa: E402

TARGET_MS = 2.0
TARGET_PG_MS = 5.0
CHANNEL = ChannelKey("slack", "T0BENCH", "C0BENCH")
THREAD = "1700000000.000100"
TOKEN_BUDGET = 6000


async def _median_ms(action: Callable[[], Awaitable[object]], rounds: int) -> float:
    for _ in range(min(20, rounds)):  # warm the page cache and the statement cache
        await action()
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def _fill_thread(db: Database) -> None:
    for i in range(1000):
        role: Literal["user", "assistant"] = "user" if i % 2 == 0 else "assistant"
        # ~50-250 tokens a turn, so the budget cuts the thread somewhere in the middle.
        text = f"turn {i}: " + "lorem ipsum dolor sit amet " * (8 + i % 30)
        await db.turns.add(CHANNEL, THREAD, role, f"U{i % 3}", text, created_at=1_700_000_000 + i)


async def _record_run(db: Database) -> None:
    """A 3-layer × 4-agent run: start, then finish with 12 proposer outputs."""
    run_id = await db.runs.start(CHANNEL, THREAD, "M-trigger", "Is 9.11 or 9.9 larger?", '{"layers": 3}')
    proposers = [
        ProposerRecord(
            layer=layer,
            agent=f"agent-{agent}",
            model="openai/gpt-oss-20b",
            text="9.9 is larger than 9.11 because 0.90 > 0.11. " * 20,
            latency_s=1.25,
            prompt_tokens=420,
            completion_tokens=180,
            error=None,
        )
        for layer in (1, 2, 3)
        for agent in range(4)
    ]
    await db.runs.finish(
        run_id,
        status="done",
        answer="9.9 is larger.",
        error=None,
        proposers=proposers,
        total_s=6.5,
        prompt_tokens=5040,
        completion_tokens=2160,
        cost_usd=0.0012,
    )


async def main(rounds: int) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.db")
        try:
            await _fill_thread(db)
            turns = len(await db.turns.history(CHANNEL, THREAD, TOKEN_BUDGET))
            history_ms = await _median_ms(lambda: db.turns.history(CHANNEL, THREAD, TOKEN_BUDGET), rounds)
            run_ms = await _median_ms(lambda: _record_run(db), rounds)
        finally:
            await db.close()
    ok = True
    for label, ms in (
        (f"history of a 1,000-turn thread ({TOKEN_BUDGET}-token budget → {turns} turns)", history_ms),
        ("record a 3×4 run (start + finish with 12 proposer outputs)", run_ms),
    ):
        met = ms <= TARGET_MS
        ok = ok and met
        print(f"{label}: median {ms:.3f} ms — target ≤ {TARGET_MS} ms {'met' if met else 'NOT met'}")
    print(f"{rounds} rounds each; target {'met' if ok else 'NOT met'}")
    return ok


async def main_postgres(rounds: int, url: str | None) -> bool:
    """The same two measurements on PostgreSQL."""
    from tests.postgres import ENV_URL, PostgresServer, create_database, drop_database

    server = None
    admin_url = url or os.environ.get(ENV_URL, "").strip()
    if not admin_url:
        server = PostgresServer.start(durable=True)
        admin_url = server.url
    try:
        target = await create_database(admin_url)
        try:
            db = await Database.open(target)
            try:
                await _fill_thread(db)
                turns = len(await db.turns.history(CHANNEL, THREAD, TOKEN_BUDGET))
                history_ms = await _median_ms(lambda: db.turns.history(CHANNEL, THREAD, TOKEN_BUDGET), rounds)
                run_ms = await _median_ms(lambda: _record_run(db), rounds)
            finally:
                await db.close()
        finally:
            await drop_database(admin_url, target)
    finally:
        if server is not None:
            server.stop()
    ok = True
    for label, ms in (
        (f"PostgreSQL: history of a 1,000-turn thread ({TOKEN_BUDGET}-token budget → {turns} turns)", history_ms),
        ("PostgreSQL: record a 3×4 run (start + finish with 12 proposer outputs)", run_ms),
    ):
        met = ms <= TARGET_PG_MS
        ok = ok and met
        print(f"{label}: median {ms:.3f} ms — target ≤ {TARGET_PG_MS} ms {'met' if met else 'NOT met'}")
    print(f"{rounds} rounds each; PostgreSQL target {'met' if ok else 'NOT met'}")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--postgres", metavar="URL", help="an existing PostgreSQL server's admin URL")
    args = parser.parse_args()
    sqlite_ok = asyncio.run(main(args.rounds))
    postgres_ok = asyncio.run(main_postgres(args.rounds, args.postgres))
    raise SystemExit(0 if sqlite_ok and postgres_ok else 1)
