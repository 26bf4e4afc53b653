"""How long a Discord user waits: MESSAGE_CREATE → first bot message, and → the final answer (not a test).

The real bot (discord.py over the fake Discord gateway + REST, the service, the engine, the groq SDK
against the fake Groq, all on 127.0.0.1) answers mentions with the default 3 layers × 3 agents while
every model call takes a fixed latency. The engine's critical path is then (layers + 1) × latency;
everything above it is what the bot and Discord add (thread creation, status, edits, storage).

    first message  (target ≤ 1 s)
    final answer as a multiple of the critical path  (target ≤ 1.1 ×)

Run: python bench/discord_latency.py [--latency 0.3] [--runs 5]. Exits 1 when a target is missed.
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

from adapters.discord.runner import run_discord
from bench.latency_report import print_latency_report
from bot.conversation.service import ConversationService
from bot.settings import Settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeGroq

LAYERS = 3  # the default preset


def answered(fake: FakeDiscord, thread: str) -> bool:
    return any(fake.buttons(m) for m in fake.bot_messages(thread))


async def measure(latency: float, runs: int) -> list[tuple[float, float]]:
    results: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeGroq(latency=latency) as groq, FakeDiscord() as fake:
            with fake.install():
                settings = Settings.load(env={
                    "GROQ_API_KEY": "gsk_bench", "GROQ_BASE_URL": groq.base_url,
                    "MOA_DB_PATH": str(Path(tmp) / "bench.db"), "DISCORD_TOKEN": fake.token,
                    "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url}, dotenv=None)
                service = await ConversationService.create(settings)
                stop = asyncio.Event()
                bot = asyncio.create_task(run_discord(settings, service, stop, guild_ready_timeout=0.05))
                try:
                    await fake.wait_for(lambda f: f.identifies and f.connected, timeout=10)
                    warm = await fake.say(fake.general, fake.alice, f"{fake.bot_mention} warm up")
                    await fake.wait_for(lambda f: answered(f, warm["id"]), timeout=30)
                    for _ in range(runs):
                        t0 = time.monotonic()
                        msg = await fake.say(fake.general, fake.alice,
                                             f"{fake.bot_mention} How long does an answer take?")
                        thread = msg["id"]
                        await fake.wait_for(lambda f, t=thread: f.bot_messages(t), timeout=30)
                        first = next(c.at for c in fake.calls if c.path == f"/channels/{thread}/messages"
                                     and c.method == "POST") - t0
                        await fake.wait_for(lambda f, t=thread: answered(f, t), timeout=60)
                        final = max(c.at for c in fake.calls if c.path.startswith(f"/channels/{thread}/")) - t0
                        results.append((first, final))
                finally:
                    await service.drain(5)
                    stop.set()
                    await bot
                    await service.aclose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model call (default 0.3)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    results = asyncio.run(measure(args.latency, args.runs))
    critical = (LAYERS + 1) * args.latency
    ok = print_latency_report(f"Discord latency — {LAYERS} layers × 3 agents, {args.latency:g} s per model call",
                              [f for f, _ in results], [f for _, f in results], critical)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
