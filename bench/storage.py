"""Storage hot paths on a real SQLite file: prints median timings and whether the 2 ms target is met.

Run: python bench/storage.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    raise SystemExit(0 if asyncio.run(main(args.rounds)) else 1)
