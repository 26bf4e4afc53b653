"""How quickly a Slack mention shows something, and how much the bot adds to the answer (not a test).

The real bolt app and conversation service run in this process; a fake Groq answers every model call
after a fixed latency and a fake Slack Web API records when each bot message appears (both on
127.0.0.1). A signed `app_mention` is POSTed to `/slack/events` and two moments are measured:

    first message: mention sent → the bot's first message in the thread (status)   (target ≤ 1 s)
    final answer:  mention sent → the answer complete with its Show layers button  (target ≤ 1.1 ×
                   the engine's critical path: layers × latency + the aggregator's latency)

Run: python bench/slack_latency.py [--latency 0.3] [--runs 5] [--no-streaming]
(`--no-streaming` makes the fake workspace refuse chat.startStream, so the status is edited with
chat.update). Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from adapters.slack.app import build_slack_app
from adapters.slack.server import EVENTS_PATH, start_http
from bench.latency_report import print_latency_report
from bot.conversation.service import ConversationService
from bot.settings import Settings
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender

SECRET = "bench-signing-secret"
LAYERS = 3  # the default ("article") setup: 3 layers × 3 agents + the aggregator


async def measure(latency: float, runs: int, streaming: bool) -> list[tuple[float, float]]:
    results: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeGroq(latency=latency) as groq, FakeSlack(streaming=streaming) as slack:
            settings = Settings.load(env={
                "GROQ_API_KEY": "gsk_bench", "GROQ_BASE_URL": groq.base_url,
                "MOA_DB_PATH": str(Path(tmp) / "bench.db"), "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url,
                "MOA_MAX_CONCURRENT_PER_CHANNEL": "1"})
            service = await ConversationService.create(settings)
            runner, port = await start_http(build_slack_app(settings, service), "127.0.0.1", 0)
            sender = SlackSender(slack, f"http://127.0.0.1:{port}{EVENTS_PATH}", SECRET)
            try:
                await sender.mention("warm up", channel="C0WARM")  # auth.test, connections, SQLite pages
                await slack.wait_for(lambda s: any(m.buttons for m in s.bot_messages("C0WARM")), timeout=30)
                for i in range(runs):
                    channel = f"C0RUN{i}"
                    t0 = time.monotonic()
                    ts = await sender.mention("How long does an answer take?", channel=channel)
                    await slack.wait_for(lambda s, c=channel: bool(s.bot_messages(c)), timeout=30)
                    first = slack.bot_messages(channel)[0].posted_at - t0

                    def done(s: FakeSlack, c: str = channel, t: str = ts) -> bool:
                        msgs = s.thread(c, t)
                        return bool(msgs) and bool(msgs[-1].buttons) and not any(m.streaming for m in msgs)

                    await slack.wait_for(done, timeout=60)
                    final = max(c.at for c in slack.calls) - t0  # the call that completed the answer
                    results.append((first, final))
            finally:
                await sender.aclose()
                await service.aclose()
                await runner.cleanup()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model call (default 0.3)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-streaming", action="store_true", help="a workspace without chat.startStream")
    args = parser.parse_args()

    results = asyncio.run(measure(args.latency, args.runs, not args.no_streaming))
    critical = (LAYERS + 1) * args.latency
    mode = "chat.update" if args.no_streaming else "chat.startStream"
    ok = print_latency_report(f"Slack latency — {mode}, {LAYERS} layers × 3 agents, {args.latency:g} s per model call",
                              [f for f, _ in results], [f for _, f in results], critical)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
