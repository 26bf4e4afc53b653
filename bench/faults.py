"""What storage faults cost an answer (not a test): the same questions through the conversation service
with healthy storage, with the disk full, and with another program holding the database lock.

A fake Groq on 127.0.0.1 answers every call after a fixed latency; the service runs the default
3 layers × 3 agents. Needs root (the full disk is a 4 MB tmpfs). Prints, per condition, the median
answer time and its ratio to the healthy one, and whether every answer arrived.

Run: python bench/faults.py [--answers 5] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bot.conversation.service import ConversationService, Mention
from bot.settings import Settings
from storage.models import ChannelKey
from tests.bot.conversation.helpers import RecordingSurface
from tests.fakes.groq_server import FakeGroq
from tests.faults import SmallDisk, lock_held

CHANNEL = ChannelKey("bench", "W", "C")


async def _answers(service: ConversationService, count: int, label: str) -> tuple[list[float], int]:
    times, delivered = [], 0
    for i in range(count):
        surface = RecordingSurface()
        started = time.perf_counter()
        await service.handle_mention(Mention(CHANNEL, f"{label}-{i}", f"{label}-m{i}", "U", f"question {i}"), surface)
        times.append(time.perf_counter() - started)
        delivered += surface.final is not None
    return times, delivered


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    async with FakeGroq(latency=args.latency) as fake:
        with tempfile.TemporaryDirectory() as tmp, SmallDisk(Path(tmp) / "disk") as disk:
            db = disk.path / "moa.db"
            env = {"GROQ_API_KEY": "gsk_bench", "GROQ_BASE_URL": fake.base_url, "MOA_DB_PATH": str(db)}
            service = await ConversationService.create(Settings.load(env=env))
            try:
                results = {"healthy": await _answers(service, args.answers, "healthy")}
                async with lock_held(db):
                    results["lock held"] = await _answers(service, args.answers, "locked")
                disk.fill()
                results["disk full"] = await _answers(service, args.answers, "full")
                disk.free()
            finally:
                await service.aclose()
    base = statistics.median(results["healthy"][0])
    for label, (times, delivered) in results.items():
        median = statistics.median(times)
        print(f"{label:10s} median {median * 1000:7.0f} ms  ×{median / base:5.2f}  answered {delivered}/{len(times)}")


if __name__ == "__main__":
    asyncio.run(main())
