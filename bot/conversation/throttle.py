"""Coalesce message edits: only the latest update runs, at most once per interval, off the hot path."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Update = Callable[[], Awaitable[None]]


class CoalescingUpdater:
    """Runs pushed updates in a background task; an update pushed while another waits replaces it.

    The engine keeps producing events while the platform is slow or rate-limited: surfaces see the
    newest state, never a backlog, and never faster than `interval`.
    """

    def __init__(self, interval: float, last_update: float | None = None) -> None:
        """`last_update`: the time.monotonic() of an update made directly, which the next one must wait for."""
        self._interval = interval
        self._pending: Update | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._last = float("-inf") if last_update is None else last_update
        self._closed = False
        self._inflight: asyncio.Task[None] | None = None
        self._task = asyncio.create_task(self._work())

    def push(self, update: Update) -> None:
        """Schedule `update`, replacing one that has not started yet."""
        if self._closed:
            return
        self._pending = update
        self._idle.clear()
        self._wake.set()

    async def drain(self) -> None:
        """Wait until every pushed update has run, then stop."""
        self._closed = True
        self._wake.set()
        await self._idle.wait()
        self._task.cancel()

    async def settle(self) -> None:
        """Drop what has not started, wait for the update in flight, and stop.

        Used before the final answer replaces the status: an older edit must not land after it.
        """
        self._closed = True
        self._pending = None
        self._task.cancel()
        if self._inflight is not None:
            await asyncio.wait({self._inflight})

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            delay = self._last + self._interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            update, self._pending = self._pending, None
            if update is not None:
                self._last = time.monotonic()
                self._inflight = asyncio.create_task(self._run(update))
                await asyncio.shield(self._inflight)
            if self._pending is None:
                self._idle.set()
            else:
                self._wake.set()

    @staticmethod
    async def _run(update: Update) -> None:
        try:
            await update()
        except Exception:  # a failed edit must not stop the answer; the next one may work
            log.warning("surface update failed", exc_info=True)
