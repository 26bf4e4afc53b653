"""How long one process takes to bring up its Discord shards, paced by Discord's max_concurrency (not a test).

The real bot (`AutoShardedBot` via `run_discord`) starts N shards against the fake Discord, once with
`max_concurrency` 1 (most bots: one IDENTIFY per 5 s) and once with `max_concurrency` N (large bots, whose
shards in different rate-limit buckets may IDENTIFY together). Printed: seconds until every shard is
connected, and their ratio; discord.py's own pacing (5 s before every shard after the first) equals the
first row.

Run: python bench/discord_shards.py [--shards 4].
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
from bot.conversation.service import ConversationService
from bot.settings import Settings
from tests.fakes.discord_server import FakeDiscord


async def startup_s(shards: int, max_concurrency: int) -> float:
    """Seconds from start until all `shards` are connected."""
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeDiscord() as fake:
            fake.max_concurrency = max_concurrency
            with fake.install():
                settings = Settings.load(env={
                    "GROQ_API_KEY": "gsk_bench", "MOA_DB_PATH": str(Path(tmp) / "bench.db"),
                    "DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url,
                    "DISCORD_GATEWAY_URL": fake.gateway_url, "DISCORD_SHARD_COUNT": str(shards)}, dotenv=None)
                service = await ConversationService.create(settings)
                stop = asyncio.Event()
                t0 = time.monotonic()
                bot = asyncio.create_task(run_discord(settings, service, stop, guild_ready_timeout=0.05))
                try:
                    await fake.wait_for(lambda f: len(f.connected_shards()) == shards, timeout=10 + 6 * shards)
                    return time.monotonic() - t0
                finally:
                    stop.set()
                    await bot
                    await service.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    paced = asyncio.run(startup_s(args.shards, 1))
    together = asyncio.run(startup_s(args.shards, args.shards))
    print(f"{args.shards} shards in one process, time until all are connected:")
    print(f"  max_concurrency 1 (one IDENTIFY per 5 s): {paced:6.2f} s")
    print(f"  max_concurrency {args.shards} (all buckets at once):  {together:6.2f} s")
    print(f"  ratio: {paced / together:.0f}× faster with the bucket pacing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
