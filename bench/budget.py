"""What a community on a free key gets from its budget, black-box through Slack (not a test; prints
figures measured in one run).

For each setup, the real `moa-bot run` (Slack HTTP mode) answers one member's thread of `--turns`
mentions, then one mention alone in another channel, against the fake Slack Web API and the fake Groq.
The fake Groq caches prompt prefixes as Groq documents it (the longest run of leading whole messages
shared with a recent request to the same model) and counts each request against tokens per minute as
Groq does: its prompt, less the cached part, plus the max_tokens it asks for. Replies are about 150
tokens. What each answer was counted is read from the fake's request log.

Setups: the default config (the built-in `article` preset as it stands), then the same with each switch
turned the other way — `prompt_layout` classic and shared_prefix, `early_answer` on, `early_exit` on.
Prints, by turn, the tokens counted per answer; answers a minute at `--tpm` tokens per minute per model
(the tightest model decides) with the thread's history (turns 4–6) and without; and answers a day for a
key with a daily token limit of `--tpd` tokens per model (Groq counts a day's tokens as used: prompt less
the cached part, plus what was written).

Target: turns 4–6 counted at the default config ≤ 0.5 × 21,935 per answer (the figure measured on the
landed main of issue 28, classic layout, every call reserving its max_tokens); no final answer cut.

Run: python bench/budget.py [--turns 6] [--tpm 8000] [--tpd 200000] [--reply-words 140]
Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moa.config.schema import default_config
from tests.adapters.slack.helpers import SECRET, start_bot
from tests.bot.process import free_port
from tests.fakes.groq_server import FakeCall, FakeGroq, default_reply
from tests.fakes.slack_api import FakeSlack, SlackSender

BASELINE = 21_935  # turns 4–6, tokens counted per answer before issue 28 (classic, full reservations)
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
SETUPS: dict[str, dict[str, object]] = {
    "default": {},
    "prompt_layout classic": {"prompt_layout": "classic"},
    "prompt_layout shared_prefix": {"prompt_layout": "shared_prefix"},
    "early_answer on": {"early_answer": True},
    "early_exit on": {"early_exit": True},
}


@dataclass
class Answer:
    counted: int  # against tokens per minute, all models: prompt − cached + max_tokens
    by_model: dict[str, int]  # the same, per model
    used_by_model: dict[str, int]  # against tokens per day: prompt − cached + completion
    calls: int
    cut: bool  # a final answer said it stopped at max_tokens


def _measure(calls: list[FakeCall], answer_text: str) -> Answer:
    by_model: dict[str, int] = defaultdict(int)
    used: dict[str, int] = defaultdict(int)
    for call in calls:
        by_model[call.model] += call.requested_tokens or 0
        usage = call.usage or {}
        used[call.model] += (int(usage.get("prompt_tokens", 0)) - call.cached_tokens
                             + int(usage.get("completion_tokens", 0)))
    return Answer(sum(by_model.values()), dict(by_model), dict(used), len(calls), "max_tokens" in answer_text)


def _answers(slack: FakeSlack, channel: str, thread: str) -> int:
    """Finished answers in a thread: messages with the show-layers button, none still streaming."""
    messages = slack.thread(channel, thread)
    return 0 if any(m.streaming for m in messages) else sum(1 for m in messages if m.buttons)


async def _thread(setup: dict[str, object], args: argparse.Namespace) -> list[Answer]:
    """`--turns` mentions in one thread, then one alone; what each answer was counted."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps({**default_config().export(), **setup}), encoding="utf-8")
        async with FakeGroq(prefix_cache=True, cut_at_max_tokens=True) as groq, FakeSlack() as slack:
            groq.limit("*", tpm=10_000_000)  # headers on, so the bot's pacer counts as the fake does; never binding
            groq.reply = lambda call: default_reply(call) + " and" * args.reply_words
            port = free_port()
            env = {"MOA_CONFIG": str(config)} if setup else {}
            proc = await start_bot(slack, groq, Path(tmp), port, extra_env=env)
            sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
            out: list[Answer] = []
            try:
                thread: str | None = None
                for n, question in enumerate([*QUESTIONS[:args.turns], ALONE], start=1):
                    alone = question == ALONE
                    channel = "C0ALONE" if alone else "C0HARBOUR"
                    before = len(groq.calls)
                    ts = await sender.mention(question, channel=channel, thread_ts=None if alone else thread)
                    root = ts if alone or thread is None else thread
                    thread = thread or ts
                    want = 1 if alone else n
                    await slack.wait_for(lambda s, c=channel, r=root, w=want: _answers(s, c, r) >= w, timeout=60)
                    answer = slack.thread(channel, root)[-1].markdown
                    out.append(_measure(groq.calls[before:], answer))
            finally:
                await sender.aclose()
                proc.terminate()
                await proc.wait()
            return out


def _per_minute(answer: Answer, tpm: int) -> float:
    return min(tpm / n for n in answer.by_model.values() if n)


def _per_day(answer: Answer, tpd: int) -> float:
    return min(tpd / n for n in answer.used_by_model.values() if n)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--tpm", type=int, default=8000, help="tokens per minute per model")
    parser.add_argument("--tpd", type=int, default=200_000, help="tokens per day per model")
    parser.add_argument("--reply-words", type=int, default=140, help="words added to each ~10-word reply")
    args = parser.parse_args()
    args.turns = max(4, min(args.turns, len(QUESTIONS)))
    late = slice(3, args.turns)
    results = {name: await _thread(setup, args) for name, setup in SETUPS.items()}

    default = default_config()
    print(f"Through Slack (moa-bot run, fake Groq with prefix cache). Default config: {default.layers} layers × "
          f"{len(default.layer_agent_config)} agents, prompt_layout {default.prompt_layout}, early_answer "
          f"{'on' if default.early_answer else 'off'}, early_exit {'on' if default.early_exit else 'off'}")
    print(f"\nTokens counted per answer (TPM: prompt − cached + max_tokens), thread of {args.turns} turns")
    names = list(results)
    print(f"{'turn':>4}  " + "  ".join(f"{name:>28}" for name in names))
    for turn in range(args.turns):
        print(f"{turn + 1:>4}  " + "  ".join(f"{results[name][turn].counted:>28,}" for name in names))
    print(f"{'calls':>4}  " + "  ".join(f"{sum(a.calls for a in results[n][:args.turns]) / args.turns:>28.1f}"
                                        for n in names))

    print(f"\nTurns 4–{args.turns}, per answer (mean), against the {BASELINE:,} measured before issue 28:")
    late_mean = {}
    for name in names:
        answers = results[name][late]
        late_mean[name] = sum(a.counted for a in answers) / len(answers)
        print(f"  {name:<30} {late_mean[name]:>8,.0f} tokens = {late_mean[name] / BASELINE:.2f}×")
    ratio = late_mean["default"] / BASELINE
    print(f"  default: {ratio:.2f}× (target ≤ 0.50)")

    print(f"\nAnswers a minute at {args.tpm:,} TPM per model (the tightest model decides); answers a day at "
          f"{args.tpd:,} tokens a day per model")
    print(f"  {'':<30} {'with history':>13} {'without':>8} {'a day (thread)':>15} {'a day (alone)':>14}")
    for name in names:
        answers, alone = results[name][late], results[name][-1]
        minute = sum(_per_minute(a, args.tpm) for a in answers) / len(answers)
        day = sum(_per_day(a, args.tpd) for a in answers) / len(answers)
        print(f"  {name:<30} {minute:>13.2f} {_per_minute(alone, args.tpm):>8.2f} {day:>15.0f} "
              f"{_per_day(alone, args.tpd):>14.0f}")
    cut = {name: sum(a.cut for a in answers) for name, answers in results.items()}
    print(f"\nfinal answers cut: {', '.join(f'{n} {c}' for n, c in cut.items())} (target 0)")
    return 0 if ratio <= 0.5 and not any(cut.values()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
