"""Processed-event keys with expiry: a Slack event id or retry must never produce a second answer."""

from __future__ import annotations

import time

from storage.backend import Connection

PURGE_EVERY = 256  # claims between purges of expired keys


class EventKeyRepository:
    """Claims event keys; the first claim of a key (or the first after it expired) wins."""

    def __init__(self, shared: Connection) -> None:
        self._db = shared
        self._claims = 0

    async def claim(self, key: str, ttl_s: float = 86400.0, now: float | None = None) -> bool:
        """True the first time key is seen (or after it expired), False for a duplicate."""
        now = time.time() if now is None else now
        self._claims += 1
        if self._claims % PURGE_EVERY == 0:
            await self.purge(now)
        # One statement, so two concurrent claims of the same key can't both win: the insert wins for a
        # new key, the update re-arms an expired one, and a live key changes no row.
        changed = await self._db.execute(
            "INSERT INTO event_keys (key, expires_at) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at"
            " WHERE event_keys.expires_at <= ?",
            (key, now + ttl_s, now),
        )
        return changed > 0

    async def purge(self, now: float | None = None) -> int:
        """Delete expired keys; returns how many."""
        return await self._db.execute(
            "DELETE FROM event_keys WHERE expires_at <= ?", (time.time() if now is None else now,)
        )
