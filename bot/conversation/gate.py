"""A fair admission gate: answers wait in one FIFO queue; how many run at once follows the models' budget.

Up to `floor` answers always run (one per channel); beyond that, up to `max_total`, the next waiter in
line is let in only while its models have room (`Admission.room_s`, e.g. `moa.pace.Pacer`): with an
idle or generous budget many answers run at once, under a tight one they wait here — seeing their place
— instead of starting and spending their time limit waiting for the budget.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

Needs = Mapping[str, Any]  # what an answer asks of each resource (e.g. moa.pace.Need per model)


class QueueFull(Exception):
    """Too many requests are already waiting."""


class Admission(Protocol):
    """What the gate asks before letting an answer in beyond its floor."""

    def room_s(self, demand: Needs) -> float:
        """Seconds until an answer needing `demand` would start without waiting (inf: until told)."""

    def claim(self, demand: Needs) -> int:
        """The answer is let in: its ticket (its place in line for the budget)."""

    def done(self, ticket: int) -> None:
        """The answer let in with `ticket` is over."""

    def watch(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever room may have been freed."""


@dataclass(eq=False)
class _Waiter:
    lane: Hashable
    needs: Needs
    granted: asyncio.Future[int | None]
    on_position: Callable[[int], Awaitable[None]] | None
    moved: asyncio.Future[None] | None = None  # resolved when the queue ahead of it changes


@dataclass
class FairGate:
    """First come, first served — except that a waiter whose channel is at its cap lets later ones pass.

    Beyond `floor` running answers the order is strict: a waiter whose models have no room holds the
    ones behind it, so a small answer never overtakes a large one for ever."""

    max_total: int
    max_per_lane: int
    max_waiting: int
    admission: Admission | None = None
    floor: int = 1
    _active: dict[Hashable, int] = field(default_factory=dict)
    _waiting: list[_Waiter] = field(default_factory=list)
    _timer: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        if self.admission is not None:
            self.admission.watch(self.wake)

    @property
    def running(self) -> int:
        return sum(self._active.values())

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def wake(self) -> None:
        """Look again whether waiters can start (the budget may have room now)."""
        self._admit()

    def _lane_free(self, lane: Hashable) -> bool:
        return self.running < self.max_total and self._active.get(lane, 0) < self.max_per_lane

    def _room_s(self, needs: Needs) -> float:
        if self.admission is None or self.running < self.floor:
            return 0.0
        return self.admission.room_s(needs)

    def _take(self, lane: Hashable, needs: Needs) -> int | None:
        self._active[lane] = self._active.get(lane, 0) + 1
        return self.admission.claim(needs) if self.admission is not None else None

    def _release(self, lane: Hashable, ticket: int | None) -> None:
        if ticket is not None and self.admission is not None:
            self.admission.done(ticket)
        left = self._active[lane] - 1
        if left:
            self._active[lane] = left
        else:
            del self._active[lane]
        self._admit()

    def _admit(self, moved: bool = False) -> None:
        """Let in whoever may start now, in order; `moved`: the queue changed, tell waiters their place."""
        for waiter in list(self._waiting):
            if waiter.granted.done():  # cancelled while waiting
                self._waiting.remove(waiter)
                moved = True
                continue
            if self.running >= self.max_total:
                break
            if not self._lane_free(waiter.lane):
                continue
            wait = self._room_s(waiter.needs)
            if wait > 0:
                self._look_again_in(wait)
                break
            self._waiting.remove(waiter)
            waiter.granted.set_result(self._take(waiter.lane, waiter.needs))
            moved = True
        if not moved:
            return
        for waiter in self._waiting:
            if waiter.moved is not None and not waiter.moved.done():
                waiter.moved.set_result(None)

    def _look_again_in(self, wait: float) -> None:
        """Room comes with time (the window slides), not only with events: look again then."""
        if math.isinf(wait):
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + wait
        if self._timer is not None:
            if self._timer.when() <= when:
                return
            self._timer.cancel()
        self._timer = loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._admit()

    @asynccontextmanager
    async def slot(self, lane: Hashable, on_position: Callable[[int], Awaitable[None]] | None = None,
                   needs: Needs | None = None) -> AsyncIterator[int | None]:
        """Hold a slot for `lane` while inside; `on_position(ahead)` is told while waiting. `needs` is what
        the answer asks of the budget; yields its ticket (None without `admission`)."""
        needs = needs or {}
        if not self._waiting and self._lane_free(lane) and self._room_s(needs) <= 0:
            ticket = self._take(lane, needs)
        else:
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(f"{len(self._waiting)} requests are already waiting")
            loop = asyncio.get_running_loop()
            waiter = _Waiter(lane, needs, loop.create_future(), on_position)
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
                    either: set[asyncio.Future[Any]] = {waiter.granted, waiter.moved}
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            except BaseException:
                if waiter.granted.done() and not waiter.granted.cancelled():
                    self._release(lane, waiter.granted.result())  # granted just as we were cancelled
                else:
                    waiter.granted.cancel()
                    if waiter in self._waiting:
                        self._waiting.remove(waiter)
                        self._admit(moved=True)  # tell the rest they moved up
                raise
            ticket = waiter.granted.result()
        try:
            yield ticket
        finally:
            self._release(lane, ticket)
