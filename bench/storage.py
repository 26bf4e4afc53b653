"""Storage hot paths on a real SQLite file and a real PostgreSQL over loopback: prints median timings and
whether the targets are met.

History and recording a run: target ≤ 2 ms median on SQLite, ≤ 5 ms on PostgreSQL. `/moa usage` and the
budget check over 100,000 stored runs (9 proposer outputs each, 70% in one busy channel, 30 days, 4 configs):
target ≤ 50 ms median; `moa-bot usage` across every channel: ≤ 500 ms. Also printed: the one-time catch-up
when none of those runs had been counted yet (an upgraded database; the bot does it at start, in batches).

Run: python bench/storage.py [--rounds N] [--runs N] [--postgres URL]
PostgreSQL: the URL given, else MOA_TEST_DATABASE_URL, else a throwaway local server (tests/postgres.py) with
PostgreSQL's default durability (fsync and synchronous commit on), in a schema of its own that is dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
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

from bot.commands.deps import CommandDeps  # noqa: E402
from bot.commands.usage import usage_text  # noqa: E402
from bot.conversation.budgets import over_budget  # noqa: E402
from bot.text.render import SLACK  # noqa: E402
from storage import ChannelKey, Database, ProposerRecord  # noqa: E402
from storage.usage import day_of  # noqa: E402

TARGET_MS = 2.0
TARGET_PG_MS = 5.0
USAGE_TARGET_MS = 50.0
REPORT_TARGET_MS = 500.0  # `moa-bot usage` on a terminal, every channel: a person waits, no chat deadline
CHANNEL = ChannelKey("slack", "T0BENCH", "C0BENCH")
THREAD = "1700000000.000100"
TOKEN_BUDGET = 6000
CONFIG_JSON = '{"main_model": "openai/gpt-oss-120b", "cycles": 3}'


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


async def _usage(db: Database, runs: int, rounds: int) -> list[tuple[str, float, float]]:
    """/moa usage, the budget check and `moa-bot usage` over `runs` stored runs."""
    deps = CommandDeps(configs=db.configs, history=db, models=None,  # type: ignore[arg-type]
                       usage=db.usage, budgets=db.budgets)
    began = time.perf_counter()
    folded = await db.usage.fold()
    print(f"first /moa usage after {folded:,} uncounted runs (one-time catch-up): "
          f"{(time.perf_counter() - began) * 1000:,.0f} ms")
    await db.budgets.put(CHANNEL, member_answers=1_000_000, channel_tokens=10**12, changed_by="U0")
    first_day = day_of(time.time()) - 29
    rounds = max(10, rounds // 4)
    return [
        (f"/moa usage over {runs:,} stored runs", await _median_ms(lambda: usage_text(CHANNEL, deps, SLACK), rounds),
         USAGE_TARGET_MS),
        ("record a run, then /moa usage (which counts it)", await _median_ms(
            lambda: _record_then(db, lambda: usage_text(CHANNEL, deps, SLACK)), rounds), USAGE_TARGET_MS),
        ("budget check before a run (both budgets set)", await _median_ms(
            lambda: over_budget(db, CHANNEL, "U1", 0, 0), rounds), USAGE_TARGET_MS),
        ("moa-bot usage, all channels, 30 days", await _median_ms(
            lambda: db.usage.report([first_day, first_day + 23, first_day + 29], pending=True), rounds),
         REPORT_TARGET_MS),
    ]


async def _record_then(db: Database, action: Callable[[], Awaitable[object]]) -> None:
    await _record_run(db)
    await action()


def fill_runs(path: Path, channel: ChannelKey, runs: int) -> None:
    """`runs` finished 3×3 runs (9 proposer outputs each, 1 in 20 failed) spread over the last 30 days of
    one busy channel and three quieter ones, 4 configs, answer times 2–60 s, and a vote on 1 in 10 —
    written straight with sqlite3, as a bot would have recorded them over a month."""
    rng = random.Random(7)
    now = time.time()
    labels = ["article", "lite", "deep", "custom 2×4 #3fa9c1"]
    models = ["openai/gpt-oss-20b", "qwen/qwen3.8-27b", "openai/gpt-oss-120b"]
    channels = [channel] + [ChannelKey("discord", "G0BENCH", f"C{i}") for i in range(3)]
    with sqlite3.connect(path) as raw:
        first = (raw.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]) + 1
        run_rows, outputs, votes = [], [], []
        for i in range(runs):
            run_id = first + i
            where = channels[0] if rng.random() < 0.7 else rng.choice(channels[1:])
            failed = rng.random() < 0.05
            run_rows.append((run_id, where.platform, where.workspace, where.channel, "t", f"M{run_id}", CONFIG_JSON,
                             "failed" if failed else "done", "q", None if failed else "a", "x" if failed else None,
                             now - rng.random() * 30 * 86400, None if failed else rng.uniform(2, 60),
                             5040, 2160, None if failed else 0.0012, f"U{i % 50}", rng.choice(labels)))
            outputs += [(run_id, seq, 1 + seq // 3, f"agent-{seq % 3}", models[seq % 3], "ok", 1.25, 420, 180, None)
                        for seq in range(9)]
            if i % 10 == 0:
                votes.append((run_id, f"U{i % 37}", 1 if rng.random() < 0.7 else -1, now))
        raw.executemany(
            "INSERT INTO runs (id, platform, workspace, channel, thread, trigger_message_id, config_json, status,"
            " question, answer, error, started_at, total_s, prompt_tokens, completion_tokens, cost_usd, author,"
            " config_label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", run_rows)
        raw.executemany("INSERT INTO proposer_outputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", outputs)
        raw.executemany("INSERT INTO votes VALUES (?, ?, ?, ?)", votes)


async def main(rounds: int, runs: int) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        db = await Database.open(path)
        try:
            await _fill_thread(db)
            turns = len(await db.turns.history(CHANNEL, THREAD, TOKEN_BUDGET))
            history_ms = await _median_ms(lambda: db.turns.history(CHANNEL, THREAD, TOKEN_BUDGET), rounds)
            run_ms = await _median_ms(lambda: _record_run(db), rounds)
        finally:
            await db.close()
        began = time.perf_counter()
        fill_runs(path, CHANNEL, runs)
        print(f"stored {runs:,} runs in {time.perf_counter() - began:.1f} s")
        db = await Database.open(path)
        try:
            usage = await _usage(db, runs, rounds)
        finally:
            await db.close()
    ok = True
    for label, ms, target in (
        (f"history of a 1,000-turn thread ({TOKEN_BUDGET}-token budget → {turns} turns)", history_ms, TARGET_MS),
        ("record a 3×4 run (start + finish with 12 proposer outputs)", run_ms, TARGET_MS),
        *usage,
    ):
        met = ms <= target
        ok = ok and met
        print(f"{label}: median {ms:.3f} ms — target ≤ {target:g} ms {'met' if met else 'NOT met'}")
    print(f"{rounds} rounds each ({max(10, rounds // 4)} for usage); target {'met' if ok else 'NOT met'}")
    return ok


async def _postgres_timings(target: str, rounds: int) -> tuple[int, float, float, float]:
    """Turns in the budget, history ms, record-a-run ms, one-commit ms on the database at `target`."""
    db = await Database.open(target)
    try:
        await _fill_thread(db)
        turns = len(await db.turns.history(CHANNEL, THREAD, TOKEN_BUDGET))
        history_ms = await _median_ms(lambda: db.turns.history(CHANNEL, THREAD, TOKEN_BUDGET), rounds)
        run_ms = await _median_ms(lambda: _record_run(db), rounds)
        # Recording a run commits twice (start, finish); this is what one small commit costs by itself.
        commit_ms = await _median_ms(lambda: db._shared.execute(
            "UPDATE schema_versions SET applied_at = applied_at WHERE version = 1"), rounds)
    finally:
        await db.close()
    return turns, history_ms, run_ms, commit_ms


async def main_postgres(rounds: int, url: str | None) -> bool:
    """The same two measurements on PostgreSQL — durable (the target), and once more with commits not
    waiting for the disk (synchronous_commit=off), which shows how much of the time is the disk's."""
    from tests.postgres import ENV_URL, PostgresServer, create_database, drop_database

    server = None
    admin_url = url or os.environ.get(ENV_URL, "").strip()
    if not admin_url:
        server = PostgresServer.start(durable=True)
        admin_url = server.url
    try:
        results = []
        for variant in ("", "&synchronous_commit=off"):
            target = await create_database(admin_url)
            try:
                results.append(await _postgres_timings(target + variant, rounds))
            finally:
                await drop_database(admin_url, target)
    finally:
        if server is not None:
            server.stop()
    (turns, history_ms, run_ms, commit_ms), (_, _, run_nowait_ms, commit_nowait_ms) = results
    ok = True
    for label, ms in (
        (f"PostgreSQL: history of a 1,000-turn thread ({TOKEN_BUDGET}-token budget → {turns} turns)", history_ms),
        ("PostgreSQL: record a 3×4 run (start + finish with 12 proposer outputs)", run_ms),
    ):
        met = ms <= TARGET_PG_MS
        ok = ok and met
        print(f"{label}: median {ms:.3f} ms — target ≤ {TARGET_PG_MS} ms {'met' if met else 'NOT met'}")
    print(f"PostgreSQL: one small commit: median {commit_ms:.3f} ms; with synchronous_commit=off (commits not "
          f"waiting for the disk) a run records in {run_nowait_ms:.3f} ms and a commit takes {commit_nowait_ms:.3f} ms")
    print(f"{rounds} rounds each; PostgreSQL target {'met' if ok else 'NOT met'}")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--runs", type=int, default=100_000, help="stored runs for the usage measurements")
    parser.add_argument("--postgres", metavar="URL", help="an existing PostgreSQL server's admin URL")
    args = parser.parse_args()
    sqlite_ok = asyncio.run(main(args.rounds, args.runs))
    postgres_ok = asyncio.run(main_postgres(args.rounds, args.postgres))
    raise SystemExit(0 if sqlite_ok and postgres_ok else 1)
