"""The real `moa-bot run` (Slack HTTP mode) against a fake Groq that sends insane rate-limit figures once —
a limit of 0, a reset of 1e308 or an epoch time, a retry-after of eleven days, a limit of `inf` — then turns
sane: the next question is answered without a restart, and nobody ever sees an internal error."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from tests.adapters.slack.helpers import SECRET, answered, start_bot
from tests.bot.process import free_port
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender

TRY = "Please try again in 0.2s."
# (what the fake does once, its arguments): each row of issue 21's table 1–3.
HOSTILE: list[tuple[str, dict[str, Any]]] = [
    ("fail", {"status": 429, "message": f"Rate limit reached (TPM): Limit 0, Used 0, Requested 900. {TRY}"}),
    ("fail", {"status": 413, "message": "Request too large (TPM): Limit 0, Requested 9000, please reduce."}),
    ("fail", {"status": 429, "message": f"Rate limit reached (RPM): Limit 0, Used 0, Requested 1. {TRY}"}),
    ("headers", {"x-ratelimit-limit-tokens": "8000", "x-ratelimit-remaining-tokens": "0",
                 "x-ratelimit-reset-tokens": "1e308"}),
    ("headers", {"x-ratelimit-limit-tokens": "8000", "x-ratelimit-remaining-tokens": "0",
                 "x-ratelimit-reset-tokens": "1733131200"}),
    ("headers", {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "999999999s"}),
    ("fail", {"status": 429, "headers": {"retry-after": "999999"}}),
    ("fail", {"status": 429, "headers": {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}}),
    ("headers", {"x-ratelimit-limit-tokens": "inf", "x-ratelimit-remaining-tokens": "inf"}),
]
INTERNAL = ("division by zero", "cannot convert float", "infinity", "Traceback", "unexpectedly", "min)")


def _settled(channel: str, ts: str):  # type: ignore[no-untyped-def]
    """The thread has the bot's last word: an answer, or a sentence saying why not."""
    def check(slack: FakeSlack) -> bool:
        messages = slack.thread(channel, ts)
        return bool(messages) and not any(m.streaming for m in messages) and (
            bool(messages[-1].buttons) or "Sorry" in messages[-1].markdown or "⚠" in messages[-1].markdown)
    return check


async def test_an_insane_figure_costs_at_most_its_own_answer_and_the_next_is_answered(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    async with FakeSlack() as slack:
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        proc = await start_bot(slack, fake_groq, tmp_path, port, extra_env={"MOA_RUN_DEADLINE": "30"})
        try:
            for kind, what in HOSTILE:
                before = len(fake_groq.calls)
                if kind == "fail":
                    fake_groq.fail("*", **what)
                else:
                    fake_groq.send_headers("*", what)
                hit = await sender.mention(f"first question after {what}")
                # The insane figure has reached the bot ...
                want = what.get("status", 200)
                await fake_groq.wait_for(lambda g, n=before, want=want: any(
                    c.ended is not None and c.status == want for c in g.calls[n:]), timeout=20)
                # ... and the provider is sane again: the next question is answered, no restart.
                after = await sender.mention("and the next one?")
                await slack.wait_for(answered("C0GENERAL", after), timeout=20)
                await slack.wait_for(_settled("C0GENERAL", hit), timeout=40)  # answered or told why
            shown = [m.markdown + m.text for m in slack.messages.values()]
            assert not [t for t in shown if any(bad in t for bad in INTERNAL)], shown
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            await sender.aclose()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, stderr.decode()[-2000:]
        assert "Traceback" not in stderr.decode(), stderr.decode()[-3000:]
