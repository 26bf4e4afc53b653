"""Discord's rules for starting the shards of one process: which IDENTIFY may go when, and what to warn about."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import discord

log = logging.getLogger(__name__)

IDENTIFY_WINDOW_S = 5.0  # Discord: max_concurrency IDENTIFYs per 5 s, at most one per rate-limit bucket
SHARDING_REQUIRED = 4011  # the gateway's close code for a session that would serve too many guilds


class ShardingRequired(RuntimeError):
    """Discord refused the session: the bot is in too many servers for the shards it asked for."""

    def __init__(self, shard_count: int | None) -> None:
        asked = f"DISCORD_SHARD_COUNT={shard_count}" if shard_count else "one connection (no DISCORD_SHARD_COUNT)"
        super().__init__(f"Discord refuses to serve this bot on {asked}: a shard may serve at most 2,500 servers. "
                         "Set DISCORD_SHARD_COUNT to about one shard per 1,000 servers, the same in every process.")


class IdentifyPacer:
    """Spaces first IDENTIFYs as Discord allows: one per bucket (`shard_id % max_concurrency`) per 5 s.

    discord.py waits 5 s before every shard but the first; a large bot's `max_concurrency` (16 and up)
    lets that many shards of different buckets start together instead.
    """

    def __init__(self, max_concurrency: int = 1, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self._clock = clock
        self._sleep = sleep
        self._last: dict[int, float] = {}  # bucket -> when its latest IDENTIFY went
        self._locks: dict[int, asyncio.Lock] = {}

    async def wait(self, shard_id: int) -> None:
        """Return when `shard_id` may IDENTIFY; counts it as sent."""
        bucket = shard_id % self.max_concurrency
        async with self._locks.setdefault(bucket, asyncio.Lock()):
            last = self._last.get(bucket)
            if last is not None and (delay := last + IDENTIFY_WINDOW_S - self._clock()) > 0:
                await self._sleep(delay)
            self._last[bucket] = self._clock()


async def session_start_pacer(http: discord.http.HTTPClient, shard_count: int,
                              shard_ids: Sequence[int]) -> IdentifyPacer:
    """Ask Discord (GET /gateway/bot) how many shards may start at once; warn about what will fail or wait."""
    try:
        recommended, _, limits = await http.get_bot_gateway()
    except discord.GatewayNotFound:
        log.warning("could not read Discord's session start limits; starting one shard every %.0f s",
                    IDENTIFY_WINDOW_S)
        return IdentifyPacer()
    if recommended > shard_count:
        log.warning("Discord recommends %d shards for this bot; DISCORD_SHARD_COUNT=%d may be refused "
                    "(about 2,500 guilds per shard at most)", recommended, shard_count)
    if limits["remaining"] < len(shard_ids):
        log.warning("Discord allows %d more session starts in the next %.0f min; this process starts %d shards",
                    limits["remaining"], limits["reset_after"] / 60_000, len(shard_ids))
    return IdentifyPacer(limits["max_concurrency"])
