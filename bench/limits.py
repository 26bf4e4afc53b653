"""Answers within Groq's real limits, faults and latency tails (not a test; prints ratios from one run).

The fake Groq (tests/fakes/groq_server.py) serves Groq's per-model windows, headers and error bodies;
its "minute" is scaled down (`--window`, default 6 s) so the whole bench takes about a minute. The engine
(the real groq SDK) answers with the seed article's config: 3 layers × 3 agents + the aggregator, 10 calls.

1. Token budget: every model limited to `--tpm` tokens per window (prompt + max_tokens, as Groq counts);
   `--mentions` answers start at once. Prints the share of calls that got 429 (target ≤ 10 %), 413s
   that reached an answer (target 0), first / last answer time (target ≤ 0.6), answers lost (target 0)
   and the tokens counted per window by the busiest model against its limit.
2. A 500 storm: 30 % of calls answer 500. Prints p95 answer time / critical path (target ≤ 2.0), the
   critical path being (layers + 1) × call latency; `--runs` answers, 4 at a time, after one unmeasured
   answer (a process's first answer learns each model's limits before other answers join in).
3. Stragglers: 10 % of proposer calls take 6× their latency. Prints p95 answer time / the nominal path
   ((layers + 1) × call latency; target ≤ 2.0).
4. Request budget: 20 requests per window per model, 10 mentions, 4 answered at once.
   Prints answers lost (target 0) and the time for all against the budget's floor (the busiest model's
   calls / 20 windows; target ≤ 1.1×, the issue's "≤ 200 s" for a 180 s floor).

5. Admission (bot/conversation/gate.py asking the pacer) against a fixed cap of 4, 8 mentions in 8 channels: with a
   generous budget, the most answers the server saw calls of at one moment (target > 4); with `--tpm`,
   the longest an admitted answer took over the window (its exposure to MOA_RUN_DEADLINE; lower is
   better) and the tokens counted per window against the budget (throughput).

Run: python bench/limits.py [--window 6] [--tpm 8000] [--mentions 4] [--latency 0.5] [--runs 20] [--only 5]
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bot.conversation.gate import FairGate
from moa.calls.providers import ProviderRegistry
from moa.config.schema import MoaConfig, default_config
from moa.events import RunFailed, RunFinished
from moa.plan.demand import answer_demand
from moa.run.engine import MoaEngine
from tests.fakes.groq_server import FakeGroq

QUESTION = "Is 9.11 or 9.9 larger? Explain the comparison of decimals step by step."


def engine_for(fake: FakeGroq) -> MoaEngine:
    registry = ProviderRegistry(groq_api_key="gsk_bench", groq_base_url=fake.base_url)
    return MoaEngine(registry)


async def answer(engine: MoaEngine, config: MoaConfig, t0: float, question: str = QUESTION,
                 ticket: int | None = None) -> tuple[float, RunFinished | RunFailed]:
    final: RunFinished | RunFailed | None = None
    async for event in engine.run(question, config, ticket=ticket):
        if isinstance(event, RunFinished | RunFailed):
            final = event
    assert final is not None
    return time.monotonic() - t0, final


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def token_budget(args: argparse.Namespace) -> bool:
    config = default_config()
    async with FakeGroq(latency=args.latency) as fake:
        fake.limit("*", tpm=args.tpm, window_s=args.window)
        engine = engine_for(fake)
        t0 = time.monotonic()
        results = await asyncio.gather(*(answer(engine, config, t0) for _ in range(args.mentions)))
        await engine.providers.aclose()
    calls = fake.calls
    limited = sum(1 for c in calls if c.status == 429)
    too_large = sum(1 for c in calls if c.status == 413)
    lost = sum(1 for _, final in results if not isinstance(final, RunFinished))
    times = [t for t, _ in results]
    first_last = min(times) / max(times)
    elapsed = max(times)
    by_model: dict[str, int] = {}
    for c in calls:
        if c.status == 200 and c.requested_tokens:
            by_model[c.model] = by_model.get(c.model, 0) + c.requested_tokens
    busiest, counted = max(by_model.items(), key=lambda kv: kv[1])
    per_window = counted / (elapsed / args.window)
    share = limited / len(calls)
    print(f"1. {args.tpm:,} tokens per {args.window:g} s window per model, {args.mentions} mentions at once")
    print(f"   429s: {limited} of {len(calls)} calls = {share:.1%}   (target ≤ 10 %)")
    print(f"   413s: {too_large}   answers lost: {lost}   (target 0 and 0)")
    print(f"   first / last answer: {min(times):.1f} s / {max(times):.1f} s = {first_last:.2f}   (target ≤ 0.6)")
    print(f"   throughput: {busiest} counted {per_window:,.0f} tokens per window = "
          f"{per_window / args.tpm:.0%} of its budget")
    return share <= 0.10 and lost == 0 and first_last <= 0.6 and not any(
        "413" in (f.error if isinstance(f, RunFailed) else "") for _, f in results)


async def request_budget(args: argparse.Namespace) -> bool:
    config = default_config()
    mentions, rpm = 10, 20
    async with FakeGroq(latency=args.latency) as fake:
        # Groq always has a tokens-per-minute limit too (its headers tell the window); here a loose one.
        fake.limit("*", rpm=rpm, tpm=1_000_000, window_s=args.window)
        engine = engine_for(fake)
        gate = asyncio.Semaphore(4)  # a fixed cap of 4 (MOA_MAX_CONCURRENT was 4; case 5 measures admission)
        t0 = time.monotonic()

        async def one() -> tuple[float, RunFinished | RunFailed]:
            async with gate:
                return await answer(engine, config, t0)

        results = await asyncio.gather(*(one() for _ in range(mentions)))
        await engine.providers.aclose()
    lost = sum(1 for _, final in results if not isinstance(final, RunFinished))
    took = max(t for t, _ in results)
    busiest = max(d.calls for d in answer_demand(config).values()) * mentions
    floor = busiest / rpm * args.window
    limited = sum(1 for c in fake.calls if c.status == 429)
    print(f"4. {rpm} requests per {args.window:g} s window per model, {mentions} mentions, 4 at once")
    print(f"   answers lost: {lost}   all done in {took:.1f} s; the budget's floor is {floor:.1f} s = "
          f"{took / floor:.2f}× (target: 0 lost, ≤ 1.1×)   429s: {limited} of {len(fake.calls)}")
    return lost == 0 and took <= 1.1 * floor


async def many_runs(fake: FakeGroq, runs: int, at_once: int) -> list[float]:
    config = default_config()
    engine = engine_for(fake)
    gate = asyncio.Semaphore(at_once)
    # A running bot has answered before: the first answer of a process (which learns each model's
    # limits before others join in) is not counted.
    await answer(engine, config, time.monotonic())
    fake.calls.clear()

    async def one() -> float | None:
        async with gate:
            took, final = await answer(engine, config, time.monotonic())
            if not isinstance(final, RunFinished):
                print(f"   an answer failed: {final.error}")
                return None
            return took

    try:
        times = await asyncio.gather(*(one() for _ in range(runs)))
    finally:
        await engine.providers.aclose()
    return [t for t in times if t is not None]


async def storm(args: argparse.Namespace) -> bool:
    path = (default_config().layers + 1) * args.latency
    async with FakeGroq(latency=args.latency, error_share=0.3) as fake:
        times = await many_runs(fake, args.runs, 4)
        errors = sum(1 for c in fake.calls if c.status == 500)
        total = len(fake.calls)
    ratio = p95(times) / path
    print(f"2. 500 storm: {errors} of {total} calls answered 500 ({errors / total:.0%}), {args.runs} answers")
    print(f"   p95 answer time / critical path: {p95(times):.2f} s / {path:.2f} s = {ratio:.2f}   (target ≤ 2.0)"
          f"   median {statistics.median(times) / path:.2f}")
    return ratio <= 2.0


async def stragglers(args: argparse.Namespace) -> bool:
    path = (default_config().layers + 1) * args.latency
    async with FakeGroq(latency=args.latency, straggler_share=0.1, straggler_factor=6.0,
                        straggle_streams=False) as fake:
        times = await many_runs(fake, args.runs, 4)
        slow = sum(1 for c in fake.calls if c.straggler)
        proposers = sum(1 for c in fake.calls if not c.stream)
    ratio = p95(times) / path
    print(f"3. stragglers: {slow} of {proposers} proposer calls 6× slower, {args.runs} answers")
    print(f"   p95 answer time / nominal path: {p95(times):.2f} s / {path:.2f} s = {ratio:.2f}   (target ≤ 2.0)"
          f"   median {statistics.median(times) / path:.2f}")
    return ratio <= 2.0


def most_answers_at_once(fake: FakeGroq) -> int:
    """The most answers (told apart by question) the server had calls of in flight at one moment."""
    most = 0
    for call in fake.calls:
        t = call.started
        most = max(most, len({c.question for c in fake.calls if c.started <= t < (c.ended or t)}))
    return most


async def admitted(fake: FakeGroq, budget_following: bool, mentions: int = 8) -> tuple[int, float, float, int]:
    """8 mentions through the gate: (most answers at once, longest admission-to-answer, all done, lost)."""
    config = default_config()
    engine = engine_for(fake)
    pacer = engine.providers.pacer
    gate = (FairGate(16, 1, 1000, admission=pacer) if budget_following else FairGate(4, 1, 1000))
    t0 = time.monotonic()

    async def one(i: int) -> tuple[float, RunFinished | RunFailed]:
        async with gate.slot(f"C{i}", None, engine.plan(QUESTION, config).needs()) as ticket:
            return await answer(engine, config, time.monotonic(), f"{QUESTION} #{i}", ticket)

    try:
        results = await asyncio.gather(*(one(i) for i in range(mentions)))
    finally:
        await engine.providers.aclose()
    lost = sum(1 for _, final in results if not isinstance(final, RunFinished))
    return most_answers_at_once(fake), max(t for t, _ in results), time.monotonic() - t0, lost


async def admission(args: argparse.Namespace) -> bool:
    print("5. admission, 8 mentions in 8 channels: fixed 4 at once / following the budget (up to 16)")
    generous = []
    for follows in (False, True):
        async with FakeGroq(latency=args.latency) as fake:
            fake.limit("*", tpm=1_000_000, window_s=args.window)
            generous.append(await admitted(fake, follows))
    print(f"   generous budget: most answers at once {generous[0][0]} / {generous[1][0]}   (target > 4); "
          f"all done in {generous[0][2]:.1f} s / {generous[1][2]:.1f} s")
    tight = []
    for follows in (False, True):
        async with FakeGroq(latency=args.latency) as fake:
            fake.limit("*", tpm=args.tpm, window_s=args.window)
            most, longest, took, lost = await admitted(fake, follows)
            counted = max(sum(c.requested_tokens or 0 for c in fake.calls_to(m) if c.status == 200)
                          for m in fake.models)
            tight.append((most, longest, took, lost, counted / (took / args.window) / args.tpm))
    print(f"   {args.tpm:,} tokens per window: longest admitted answer {tight[0][1] / args.window:.1f} / "
          f"{tight[1][1] / args.window:.1f} windows; throughput {tight[0][4]:.0%} / {tight[1][4]:.0%} of the "
          f"busiest model's budget; lost {tight[0][3]} / {tight[1][3]}")
    return generous[1][0] > 4 and tight[1][3] == 0 and generous[1][3] == 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=6.0, help="the fake's 'minute', seconds")
    parser.add_argument("--tpm", type=int, default=8000)
    parser.add_argument("--mentions", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per call")
    parser.add_argument("--runs", type=int, default=20, help="answers in the storm and straggler cases")
    parser.add_argument("--only", type=int, choices=range(1, 6), help="run only this case")
    args = parser.parse_args()
    cases = [token_budget, storm, stragglers, request_budget, admission]
    ok = [await case(args) for n, case in enumerate(cases, 1) if args.only in (None, n)]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
