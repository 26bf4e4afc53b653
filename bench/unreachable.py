"""How fast a call to a provider that refuses the connection fails, next to one whose connection drops
(not a test).

A refused connection (nothing listens on the port GROQ_BASE_URL names) cannot be helped by retrying, so it
fails at once with a sentence naming the URL and GROQ_BASE_URL; a dropped connection (the fake Groq
accepts, then closes without answering) is retried with backoff. Both use the default retry policy
(4 attempts, backoff from 0.5 s). Prints the median time to the failure of each and their ratio.

Run: python bench/unreachable.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from moa.calls.providers import ProviderRegistry
from moa.errors import ProviderError
from tests.fakes.groq_server import FakeGroq

MODEL = "openai/gpt-oss-20b"


async def time_to_failure(base_url: str) -> tuple[float, str]:
    registry = ProviderRegistry(groq_api_key="gsk_bench", groq_base_url=base_url, call_timeout_s=10)
    started = time.perf_counter()
    try:
        await registry.complete(MODEL, [{"role": "user", "content": "hi"}])
    except ProviderError as err:
        return time.perf_counter() - started, str(err)
    finally:
        await registry.aclose()
    raise AssertionError("the call succeeded")


async def main(runs: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    refused, dropped = [], []
    async with FakeGroq() as fake:
        for _ in range(runs):
            seconds, refused_text = await time_to_failure(closed)
            refused.append(seconds)
            fake.fail(MODEL, 0, times=10)  # accept, then drop the connection without answering
            seconds, dropped_text = await time_to_failure(fake.base_url)
            dropped.append(seconds)
    r, d = statistics.median(refused), statistics.median(dropped)
    print(f"refused connection: fails in {r * 1000:.1f} ms — {refused_text}")
    print(f"dropped connection: fails in {d * 1000:.0f} ms after retries — {dropped_text}")
    print(f"dropped / refused: {d / r:.0f}×")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # the fake's deliberate drops
    asyncio.run(main(parser.parse_args().runs))
