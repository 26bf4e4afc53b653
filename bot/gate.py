"""A fair admission gate: caps answers overall and per channel; the rest wait in one FIFO queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


class QueueFull(Exception):
    """Too many requests are already waiting."""


@dataclass(eq=False)
class _Waiter:
    lane: Hashable
    granted: asyncio.Future[None]
    on_position: Callable[[int], Awaitable[None]] | None
    moved: asyncio.Future[None] | None = None  # resolved when the queue ahead of it changes


@dataclass
class FairGate:
    """First come, first served — except that a waiter whose channel is at its cap lets later ones pass."""

    max_total: int
    max_per_lane: int
    max_waiting: int
    _active: dict[Hashable, int] = field(default_factory=dict)
    _waiting: list[_Waiter] = field(default_factory=list)

    @property
    def running(self) -> int:
        return sum(self._active.values())

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _can_run(self, lane: Hashable) -> bool:
        return self.running < self.max_total and self._active.get(lane, 0) < self.max_per_lane

    def _take(self, lane: Hashable) -> None:
        self._active[lane] = self._active.get(lane, 0) + 1

    def _release(self, lane: Hashable) -> None:
        left = self._active[lane] - 1
        if left:
            self._active[lane] = left
        else:
            del self._active[lane]
        self._admit()

    def _admit(self) -> None:
        for waiter in list(self._waiting):
            if waiter.granted.done():  # cancelled while waiting
                self._waiting.remove(waiter)
            elif self._can_run(waiter.lane):
                self._waiting.remove(waiter)
                self._take(waiter.lane)
                waiter.granted.set_result(None)
        for waiter in self._waiting:
            if waiter.moved is not None and not waiter.moved.done():
                waiter.moved.set_result(None)

    @asynccontextmanager
    async def slot(self, lane: Hashable,
                   on_position: Callable[[int], Awaitable[None]] | None = None) -> AsyncIterator[None]:
        """Hold a slot for `lane` while inside; `on_position(ahead)` is told while waiting."""
        if not self._waiting and self._can_run(lane):
            self._take(lane)
        else:
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"{len(self._waiting)} requests are already waiting")
            loop = asyncio.get_running_loop()
            waiter = _Waiter(lane, loop.create_future(), on_position)
            self._waiting.append(waiter)
            self._admit()  # those ahead may all be blocked by their channel's cap
            told: int | None = None
            try:
                while not waiter.granted.done():
                    ahead = self._waiting.index(waiter)
                    if on_position is not None and ahead != told:
                        told = ahead
                        await on_position(ahead)
                    waiter.moved = loop.create_future()
                    await asyncio.wait({waiter.granted, waiter.moved}, return_when=asyncio.FIRST_COMPLETED)
            except BaseException:
                if waiter.granted.done() and not waiter.granted.cancelled():
                    self._release(lane)  # granted just as we were cancelled: give it back
                else:
                    waiter.granted.cancel()
                    if waiter in self._waiting:
                        self._waiting.remove(waiter)
                        self._admit()  # tell the rest they moved up
                raise
        try:
            yield
        finally:
            self._release(lane)
