"""More answers per budget (not a test; prints ratios measured in one run).

The fake Groq (tests/fakes/groq_server.py) caches prompt prefixes as Groq documents it (the longest run of
leading whole messages shared with a recent request to the same model, `--block` tokens at a time) and
counts a request against tokens per minute as Groq does: its prompt, less the cached part, plus the
max_tokens it asks for. Replies are about 150 tokens. The engine (the real groq SDK) answers a thread of
`--turns` questions with the default config twice:

- today: the classic layout (each agent's prompt first) and every call reserving the config's max_tokens;
- new: `prompt_layout: "shared_prefix"` and reservations learned from finished calls (moa.plan.reserve).

Prints, by turn, the tokens counted per answer, the cached share of the prompts, and answers a minute at
`--tpm` tokens per minute per model (the tightest model decides), with history (turns 4–6) and without
(one more question, with no thread). Target: turns 4–6 counted at most half of today's.

Run: python bench/budget.py [--turns 6] [--tpm 8000] [--reply-words 140] [--block 1]
Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import defaultdict
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moa.calls.providers import ProviderRegistry
from moa.config.schema import MoaConfig, default_config
from moa.events import RunFinished, Turn
from moa.plan.reserve import Reservations
from moa.run.engine import MoaEngine
from tests.fakes.groq_server import FakeCall, FakeGroq, default_reply

QUESTIONS = [
    "What makes a harbour a good place for ships to shelter?",
    "How did the harbour's breakwater change the town?",
    "Which ships used it most in the last century?",
    "Why did the fishing fleet shrink after that?",
    "What would it take to bring the fleet back?",
    "Which of those steps should the town take first?",
    "How long would the first step take?",
    "Who should pay for it?",
]
ALONE = "What is a quay, in one paragraph?"


@dataclass
class Answer:
    counted: int  # tokens counted against tokens per minute, all models
    prompt: int
    cached: int
    by_model: dict[str, int]
    cut: bool


def _measure(calls: list[FakeCall], done: RunFinished) -> Answer:
    by_model: dict[str, int] = defaultdict(int)
    for call in calls:
        by_model[call.model] += call.requested_tokens or 0
    prompt = sum(int((c.usage or {}).get("prompt_tokens", 0)) for c in calls)
    cut = any("max_tokens" in w for w in done.warnings)
    return Answer(sum(by_model.values()), prompt, sum(c.cached_tokens for c in calls), dict(by_model), cut)


async def _thread(config: MoaConfig, *, learn: bool, turns: int, reply_words: int, block: int) -> list[Answer]:
    """`turns` answers in one thread, then one question alone; what each was counted."""
    async with FakeGroq(prefix_cache=True, cache_block_tokens=block, cut_at_max_tokens=True) as fake:
        fake.limit("*", tpm=10_000_000)  # headers on, so the pacer counts as the fake does; never binding
        fake.reply = lambda call: default_reply(call) + " and" * reply_words
        registry = ProviderRegistry(groq_api_key="gsk_bench", groq_base_url=fake.base_url)
        # today: a reservation that never leaves the config's max_tokens (it never warms up)
        reservations = Reservations() if learn else Reservations(warm_up=10**9)
        engine = MoaEngine(registry, reservations=reservations)
        history: list[Turn] = []
        out: list[Answer] = []
        for question in [*QUESTIONS[:turns], ALONE]:
            alone = question == ALONE
            before = len(fake.calls)
            final = None
            async for event in engine.run(question, config, () if alone else history):
                final = event
            if not isinstance(final, RunFinished):
                raise SystemExit(f"an answer failed: {final}")
            out.append(_measure(fake.calls[before:], final))
            if not alone:
                history += [Turn("user", question, "ana"), Turn("assistant", final.answer)]
        await registry.aclose()
        return out


def _per_minute(answer: Answer, tpm: int) -> float:
    return min(tpm / n for n in answer.by_model.values() if n)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--tpm", type=int, default=8000)
    parser.add_argument("--reply-words", type=int, default=140, help="words added to each ~10-word reply")
    parser.add_argument("--block", type=int, default=1, help="cache block in tokens (1: whole messages)")
    args = parser.parse_args()
    turns = max(4, min(args.turns, len(QUESTIONS)))

    base = default_config()
    today = await _thread(base.model_copy(update={"prompt_layout": "classic"}), learn=False, turns=turns,
                          reply_words=args.reply_words, block=args.block)
    new = await _thread(base.model_copy(update={"prompt_layout": "shared_prefix"}), learn=True, turns=turns,
                        reply_words=args.reply_words, block=args.block)

    print(f"Tokens counted per answer (TPM: prompt − cached + max_tokens), default config, {turns} turns")
    print(f"{'turn':>4}  {'today':>8}  {'cached':>6}  {'new':>8}  {'cached':>6}  {'new/today':>9}")
    for n, (a, b) in enumerate(zip(today[:turns], new[:turns], strict=True), start=1):
        print(f"{n:>4}  {a.counted:>8,}  {a.cached / max(1, a.prompt):>6.0%}  {b.counted:>8,}  "
              f"{b.cached / max(1, b.prompt):>6.0%}  {b.counted / a.counted:>9.2f}")
    late_today = today[3:turns]
    late_new = new[3:turns]
    ratio = sum(b.counted for b in late_new) / sum(a.counted for a in late_today)
    print(f"turns 4–{turns}: new / today = {ratio:.2f} (target ≤ 0.50)")

    print(f"\nAnswers a minute at {args.tpm:,} TPM per model (the tightest model decides)")
    for label, a, b in ((f"with history (turns 4–{turns}, mean)", late_today, late_new),
                        ("without history", [today[-1]], [new[-1]])):
        rate_a = sum(_per_minute(x, args.tpm) for x in a) / len(a)
        rate_b = sum(_per_minute(x, args.tpm) for x in b) / len(b)
        print(f"  {label:<32} today {rate_a:5.2f}   new {rate_b:5.2f}   ({rate_b / rate_a:.1f}×)")
    cut = sum(x.cut for x in new)
    print(f"\nfinal answers cut: today {sum(x.cut for x in today)}, new {cut} (target 0)")
    return 0 if ratio <= 0.5 and cut == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
