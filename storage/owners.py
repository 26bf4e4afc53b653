"""Owners: the processes that own runs. A run is cut off when its owner is no longer alive.

With SQLite one process holds the file (storage.lock), so at open every other owner is dead. A
database shared by replicas (PostgreSQL) keeps owners alive with a heartbeat (the service's keep-alive) and
treats one silent for EXPIRY_S as gone; the question "which runs are cut off" is the same for both.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from storage.backend import Connection

EXPIRY_S = 30.0


def new_owner_id() -> str:
    """A fresh id for this process: host, pid and a random part (pids are reused after restarts)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OwnerRepository:
    """Rows of `owners`: who is alive, by heartbeat."""

    def __init__(self, shared: Connection, expiry_s: float = EXPIRY_S) -> None:
        self._db = shared
        self.expiry_s = expiry_s  # a lease: an owner silent this long is gone

    async def register(self, owner: str, now: float | None = None) -> None:
        """Record `owner` as alive now."""
        at = time.time() if now is None else now
        await self._db.execute(
            "INSERT INTO owners (id, pid, host, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (owner, os.getpid(), socket.gethostname(), at, at))

    async def heartbeat(self, owner: str, now: float | None = None) -> None:
        """Keep `owner` alive for another expiry_s."""
        await self._db.execute("UPDATE owners SET heartbeat_at = ? WHERE id = ?",
                               (time.time() if now is None else now, owner))

    async def forget_others(self, owner: str) -> int:
        """Drop every owner but `owner` (SQLite: the file lock proves they are gone); returns how many."""
        return await self._db.execute("DELETE FROM owners WHERE id <> ?", (owner,))

    async def remove(self, owner: str) -> None:
        """A clean stop: `owner` owns nothing any more."""
        await self._db.execute("DELETE FROM owners WHERE id = ?", (owner,))

    def live_since(self, now: float | None = None) -> float:
        """Heartbeats at or after this time count as alive."""
        return (time.time() if now is None else now) - self.expiry_s
