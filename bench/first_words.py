"""First words sooner, fewer calls (not a test; prints ratios measured in one run).

The fake Groq streams like a model: `--first-token` seconds to the first word, then `--word` seconds a
word (non-streamed calls answer after their last word), answers of about 30 words. The engine (the real
groq SDK) answers with 3 layers × 3 agents + the aggregator. Times are from the answer's first model
call (the fake's request log) to the first answer word the consumer receives, on one clock.

1. Time to the first answer word, `early_answer` off / on (target on ≤ 0.25 × off), disagreeing agents.
2. Calls per answer: agreeing agents with `early_exit` on (target: layer 1 + the aggregator = 4),
   disagreeing agents with `early_exit` on (every layer: 10); answer time in each case.
3. With `--through-run`: a 30 % 500 storm and 10 % of proposer calls 6× slower through the whole
   `moa-bot run` (Slack HTTP mode, `--at-once` answers at once, `--latency` s calls): p95 answer time
   (mention → answer complete in Slack) over the nominal path (layers + 1) × latency; target ≤ 2.0.

Run: python bench/first_words.py [--answers 5] [--first-token 0.1] [--word 0.015] [--through-run]
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moa.calls.providers import ProviderRegistry
from moa.config.schema import AgentConfig, MoaConfig
from moa.events import AggregatorDelta, RunFinished
from moa.run.engine import MoaEngine
from tests.fakes.groq_server import FakeCall, FakeGroq

FAST, STRONG, QWEN = "openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3.8-27b"
FILLER = ["the", "comparison", "goes", "digit", "by", "digit", "after", "the", "decimal", "point", "so", "the",
          "tenths", "decide", "first", "and", "only", "then", "the", "hundredths", "matter", "which", "settles",
          "it", "plainly"]
VOICES = ["North", "South", "East", "West", "Up", "Down", "Left", "Right"]


def config(*, early_exit: bool = False, early_answer: bool = False) -> MoaConfig:
    agents = {f"agent_{i}": AgentConfig(model_name=m, system_prompt=f"You are agent {i}. {{helper_response}}")
              for i, m in enumerate((FAST, QWEN, FAST), start=1)}
    return MoaConfig(main_model=STRONG, layers=3, layer_agent_config=agents, early_exit=early_exit,
                     early_answer=early_answer)


def _agent(call: FakeCall) -> int:
    return int(call.system.split("agent ")[1][0]) if call.system.startswith("You are agent ") else 0


def agreeing(call: FakeCall) -> str:
    """About 30 words; every agent reaches the same final answer."""
    return f"Agent {_agent(call)} reasons: {' '.join(FILLER[:22])}. The answer is 9.9."


def disagreeing(call: FakeCall) -> str:
    """About 30 words; the agents' views differ from each other and from layer to layer."""
    if call.model == STRONG:
        return agreeing(call)
    shift = (_agent(call) * 7 + call.seen_answers * 3) % len(FILLER)
    words = FILLER[shift:] + FILLER[:shift]
    return f"{VOICES[(_agent(call) + call.seen_answers) % len(VOICES)]} view: {' '.join(words[:27])}."


@dataclass
class Measured:
    first_word_s: float
    answer_s: float
    calls: int


async def one_answer(fake: FakeGroq, engine: MoaEngine, cfg: MoaConfig, question: str) -> Measured:
    before = len(fake.calls)
    first: float | None = None
    done: RunFinished | None = None
    async for event in engine.run(question, cfg):
        if isinstance(event, AggregatorDelta) and first is None:
            first = time.monotonic()
        if isinstance(event, RunFinished):
            done = event
    end = time.monotonic()
    assert done is not None and first is not None, "the answer failed"
    start = min(c.started for c in fake.calls[before:])  # the answer's first model call, server-side
    return Measured(first - start, end - start, len(fake.calls) - before)


async def case(fake: FakeGroq, engine: MoaEngine, cfg: MoaConfig, answers: int) -> Measured:
    runs = [await one_answer(fake, engine, cfg, f"Which is larger, 9.11 or 9.9? #{i}") for i in range(answers)]
    return Measured(statistics.median(r.first_word_s for r in runs), statistics.median(r.answer_s for r in runs),
                    round(statistics.mean(r.calls for r in runs)))


async def engine_cases(args: argparse.Namespace) -> bool:
    async with FakeGroq(first_token_s=args.first_token, word_s=args.word) as fake:
        registry = ProviderRegistry(groq_api_key="gsk_bench", groq_base_url=fake.base_url)
        engine = MoaEngine(registry)
        try:
            fake.reply = disagreeing
            await one_answer(fake, engine, config(), "warm up")  # connections, the models' limits
            off = await case(fake, engine, config(), args.answers)
            on = await case(fake, engine, config(early_answer=True), args.answers)
            split = await case(fake, engine, config(early_exit=True), args.answers)
            fake.reply = agreeing
            agree_off = await case(fake, engine, config(), args.answers)
            agree = await case(fake, engine, config(early_exit=True), args.answers)
        finally:
            await registry.aclose()
    ratio = on.first_word_s / off.first_word_s
    print(f"Fake Groq: {args.first_token * 1000:.0f} ms to the first word, {args.word * 1000:.0f} ms a word, "
          f"~30-word answers; 3 layers × 3 agents; medians of {args.answers} answers")
    print(f"1. first answer word: early_answer off {off.first_word_s:.2f} s / on {on.first_word_s:.2f} s = "
          f"{ratio:.2f}×   (target ≤ 0.25)   answer time {off.answer_s:.2f} s / {on.answer_s:.2f} s, "
          f"calls {off.calls} / {on.calls}")
    print(f"2. early_exit on, agreeing agents: {agree.calls} calls (target 4), answer {agree.answer_s:.2f} s "
          f"(early_exit off: {agree_off.calls} calls, {agree_off.answer_s:.2f} s = "
          f"{agree.answer_s / agree_off.answer_s:.2f}×)")
    print(f"   early_exit on, disagreeing agents: {split.calls} calls (every layer: 10), answer "
          f"{split.answer_s:.2f} s (early_exit off: {off.answer_s:.2f} s)")
    return ratio <= 0.25 and agree.calls == 4 and split.calls == 10


async def through_run(args: argparse.Namespace, label: str, **faults: float | bool) -> bool:
    """p95 of `--at-once` answers through the real `moa-bot run` under one fault."""
    from tests.adapters.slack.helpers import SECRET, answered, start_bot
    from tests.bot.process import free_port
    from tests.fakes.slack_api import FakeSlack, SlackSender

    path = 4 * args.latency
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeGroq(latency=args.latency, **faults) as groq, FakeSlack() as slack:  # type: ignore[arg-type]
            port = free_port()
            proc = await start_bot(slack, groq, Path(tmp), port)
            sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
            try:
                warm = await sender.mention("warm up", channel="C0WARM")
                await slack.wait_for(answered("C0WARM", warm), timeout=60)

                moments: dict[str, tuple[float, float]] = {}  # question -> (mention sent, answer complete)

                async def one(i: int) -> float:
                    channel = f"C0B{i}"
                    t0 = time.monotonic()
                    ts = await sender.mention(f"question {i}", channel=channel)
                    await slack.wait_for(answered(channel, ts), timeout=120)
                    moments[f"question {i}"] = (t0, time.monotonic())
                    return time.monotonic() - t0

                times = sorted(await asyncio.gather(*(one(i) for i in range(args.at_once))))
                # where the time went: the engine's own time per answer (stored with the run), and the
                # span of each answer's model calls at the fake
                with sqlite3.connect(Path(tmp) / "moa.db") as db:
                    engine_s = sorted(r[0] for r in db.execute(
                        "SELECT total_s FROM runs WHERE channel LIKE 'C0B%' AND total_s IS NOT NULL"))
                before, spans, after = [], [], []  # mention → first call, the calls, last call → in Slack
                for question, (sent, complete) in moments.items():
                    calls = [c for c in groq.calls if c.question == question]
                    first, last = min(c.started for c in calls), max(c.ended or c.started for c in calls)
                    before.append(first - sent)
                    spans.append(last - first)
                    after.append(complete - last)
            finally:
                await sender.aclose()
                proc.terminate()
                await proc.wait()
    p95 = _p95(times)
    print(f"3. {label} through moa-bot run, {args.at_once} answers at once, {args.latency * 1000:.0f} ms calls: "
          f"p95 {p95:.2f} s / nominal {path:.2f} s = {p95 / path:.2f}×   (target ≤ 2.0)   "
          f"median {statistics.median(times) / path:.2f}×")
    print(f"   where it went (p95 / median): mention → first model call {_p95(before):.2f} / "
          f"{statistics.median(before):.2f} s; the model calls {_p95(spans) / path:.2f} / "
          f"{statistics.median(spans) / path:.2f}× nominal (engine {_p95(engine_s) / path:.2f}×); last call → "
          f"answer complete in Slack {_p95(after):.2f} / {statistics.median(after):.2f} s")
    return p95 / path <= 2.0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--first-token", type=float, default=0.1)
    parser.add_argument("--word", type=float, default=0.015)
    parser.add_argument("--through-run", action="store_true", help="also the storm and stragglers via moa-bot run")
    parser.add_argument("--at-once", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args()
    ok = await engine_cases(args)
    if args.through_run:
        ok &= await through_run(args, "500 storm (30 %)", error_share=0.3)
        ok &= await through_run(args, "stragglers (10 % of proposer calls 6×)", straggler_share=0.1,
                                straggler_factor=6.0, straggle_streams=False)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
