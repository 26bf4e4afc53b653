"""What people bring, measured (not a test): issue 27's four figures and the PDF worker's memory.

The real bolt app and conversation service run in this process, fresh for each case, against a fake Groq
(every call answers after `--latency` s) and a Slack-like fake Web API (conversations.replies paged 200 at
a time oldest first, users.info slowed, downloads that stall after their headers), all on 127.0.0.1, with
the bot's default budgets (MOA_FILE_DOWNLOAD_TIMEOUT 10 s, MOA_FILE_READ_TIMEOUT 20 s):

    thread   a 500-message thread, the key fact in message 499 → does it reach the models; mention → answer
    stalled  a mention with 5 stalled files, then a file-less mention in another channel (fresh process)
    pdf      a slow 15-page PDF (~70 s for pypdf to read whole) → answer, pages read, the worker's peak RSS
    authors  150 thread authors, users.info 0.3 s each → mention → answer

Run: PYTHONPATH=. python bench/reading.py [--latency 0.3] [--full-pdf]
(`--full-pdf` also times pypdf reading the whole slow PDF in the worker with no time limit.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from adapters.slack.app import build_slack_app
from adapters.slack.server import EVENTS_PATH, start_http
from bot.conversation.pdf import PDF_MEMORY_BYTES, read_pdf
from bot.conversation.service import ConversationService
from bot.settings import Settings
from tests.fakes.files import slow_pdf
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender

SECRET = "bench-signing-secret"
SLOW_PDF_MOVES = 80_000  # ~4–5 s of pypdf per page here: the whole file takes about as long as issue 27's


@asynccontextmanager
async def fresh_bot(latency: float) -> AsyncIterator[tuple[FakeGroq, FakeSlack, SlackSender]]:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeGroq(latency=latency) as groq, FakeSlack() as slack:
            settings = Settings.load(env={
                "GROQ_API_KEY": "gsk_bench", "GROQ_BASE_URL": groq.base_url,
                "MOA_DB_PATH": str(Path(tmp) / "bench.db"), "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url})
            service = await ConversationService.create(settings)
            runner, port = await start_http(build_slack_app(settings, service), "127.0.0.1", 0)
            sender = SlackSender(slack, f"http://127.0.0.1:{port}{EVENTS_PATH}", SECRET)
            try:
                yield groq, slack, sender
            finally:
                await sender.aclose()
                await service.aclose()
                await runner.cleanup()


def answered(channel: str, thread: str) -> Callable[[FakeSlack], bool]:
    def check(slack: FakeSlack) -> bool:
        messages = slack.thread(channel, thread)
        return bool(messages) and bool(messages[-1].buttons) and not any(m.streaming for m in messages)
    return check


def seen(slack: FakeSlack, channel: str, thread: str) -> str:
    return "\n".join(m.visible for m in slack.thread(channel, thread))


def notes(slack: FakeSlack, channel: str, thread: str, start: str = "I ") -> str:
    """What the answer's notes say, from the first one starting with `start`."""
    text = seen(slack, channel, thread)
    return text[text.find(start):].replace("\n", " ")[:400] if start in text else ""


async def mention_with_files(sender: SlackSender, text: str, files: list[dict[str, Any]], channel: str) -> str:
    event = sender.mention_event(text, channel=channel)
    event["files"] = files
    await sender.event(event)
    return str(event["ts"])


async def thread_case(latency: float) -> dict[str, Any]:
    async with fresh_bot(latency) as (groq, slack, sender):
        root = slack.said("incident channel for the outage", channel="C0GENERAL", user="U0BOB")
        for n in range(2, 500):
            said = "the root cause was an expired TLS certificate" if n == 499 else f"status update {n}"
            slack.said(said, channel="C0GENERAL", user="U0CAROL", thread_ts=root)
        t0 = time.monotonic()
        await sender.mention("so what was the root cause?", thread_ts=root)
        await slack.wait_for(answered("C0GENERAL", root), timeout=120)
        sent = "\n".join(str(m.get("content")) for c in groq.calls for m in c.messages)
        return {"answer_s": time.monotonic() - t0, "fact_reached": "expired TLS certificate" in sent,
                "pages": len(slack.calls_to("conversations.replies")),
                "note": notes(slack, "C0GENERAL", root, start="Only the last")}


async def stalled_case(latency: float) -> dict[str, Any]:
    async with fresh_bot(latency) as (_, slack, sender):
        logs = [slack.add_file(f"log{i}.txt", "text/plain", b"ERROR", arrival="stall") for i in range(1, 6)]
        t0 = time.monotonic()
        first = await mention_with_files(sender, "what do these logs say?", logs, "C0GENERAL")
        await slack.wait_for(lambda s: s.stalled == 5, timeout=30)
        t1 = time.monotonic()
        other = await sender.mention("what is 2+2?", channel="C0RANDOM")
        await slack.wait_for(answered("C0RANDOM", other), timeout=120)
        other_s, still_held = time.monotonic() - t1, slack.stalled
        await slack.wait_for(answered("C0GENERAL", first), timeout=120)
        return {"answer_s": time.monotonic() - t0, "other_channel_s": other_s,
                "stalls_open_when_other_answered": still_held, "note": notes(slack, "C0GENERAL", first)}


async def pdf_case(latency: float) -> dict[str, Any]:
    async with fresh_bot(latency) as (_, slack, sender):
        report = slack.add_file("report.pdf", "application/pdf", slow_pdf(pages=15, moves=SLOW_PDF_MOVES))
        t0 = time.monotonic()
        ts = await mention_with_files(sender, "summarise the report", [report], "C0GENERAL")
        await slack.wait_for(answered("C0GENERAL", ts), timeout=180)
        return {"answer_s": time.monotonic() - t0, "pdf_kb": len(slow_pdf(15, SLOW_PDF_MOVES)) / 1000,
                "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                "note": notes(slack, "C0GENERAL", ts)}


async def authors_case(latency: float) -> dict[str, Any]:
    async with fresh_bot(latency) as (_, slack, sender):
        slack.method_latency["users.info"] = 0.3
        root = slack.said("who is coming to the offsite?", channel="C0GENERAL", user="U0BOB")
        for n in range(1, 151):
            slack.said("me", channel="C0GENERAL", user=f"U{n:04d}", thread_ts=root)
        t0 = time.monotonic()
        await sender.mention("how many said yes?", thread_ts=root)
        await slack.wait_for(answered("C0GENERAL", root), timeout=120)
        return {"answer_s": time.monotonic() - t0, "lookups": len(slack.calls_to("users.info")),
                "most_at_once": slack.most_at_once.get("users.info", 0)}


async def full_pdf() -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    pdf = await read_pdf(slow_pdf(pages=15, moves=SLOW_PDF_MOVES), 10**9, 3600)
    return {"whole_s": time.monotonic() - t0, "pages": pdf.pages_read,
            "worker_peak_mb": max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024}


def show(name: str, figures: dict[str, Any]) -> None:
    parts = [f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items() if k != "note"]
    print(f"{name:8} " + "  ".join(parts))
    if figures.get("note"):
        print(f"{'':8} sees: {figures['note']}")


async def main(latency: float, whole: bool) -> None:
    print(f"model call latency {latency} s; PDF worker address space limit {PDF_MEMORY_BYTES // 2**20} MB")
    show("thread", await thread_case(latency))
    show("stalled", await stalled_case(latency))
    show("pdf", await pdf_case(latency))
    show("authors", await authors_case(latency))
    if whole:
        show("pdf-all", await full_pdf())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model call (default 0.3)")
    parser.add_argument("--full-pdf", action="store_true", help="also read the slow PDF whole, untimed")
    args = parser.parse_args()
    asyncio.run(main(args.latency, args.full_pdf))
