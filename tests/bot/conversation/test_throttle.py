"""Coalesced edits: the newest state wins, never faster than the interval, the final one never lost."""

from __future__ import annotations

import asyncio
import time

from bot.conversation.throttle import CoalescingUpdater
from tests.edit_pacing import assert_paced


async def test_burst_of_updates_is_coalesced_to_the_newest_and_paced() -> None:
    shown: list[tuple[float, int]] = []

    def show(n: int):
        async def update() -> None:
            shown.append((time.monotonic(), n))
        return update

    start = time.monotonic()
    updater = CoalescingUpdater(interval=0.2, last_update=start)  # as the service does after the first status
    for n in range(50):
        updater.push(show(n))
        await asyncio.sleep(0.01)
    await updater.drain()
    values = [n for _, n in shown]
    assert values[-1] == 49  # the final state is always shown
    assert values == sorted(set(values))  # never an older state after a newer one
    assert_paced(start, [at for at, _ in shown], interval=0.2)  # so not one edit per event


async def test_settle_waits_for_the_edit_in_flight_and_drops_the_rest() -> None:
    started = asyncio.Event()
    finish = asyncio.Event()
    shown: list[str] = []

    async def slow() -> None:
        started.set()
        await finish.wait()
        shown.append("slow")

    async def stale() -> None:
        shown.append("stale")

    updater = CoalescingUpdater(interval=1.0)
    updater.push(slow)
    await asyncio.wait_for(started.wait(), 2)
    updater.push(stale)
    settling = asyncio.create_task(updater.settle())
    await asyncio.sleep(0)
    assert not settling.done()  # still waiting for the edit in flight
    finish.set()
    await asyncio.wait_for(settling, 2)
    assert shown == ["slow"]


async def test_a_failing_update_does_not_stop_later_ones() -> None:
    shown: list[str] = []
    failed = asyncio.Event()

    async def broken() -> None:
        failed.set()
        raise RuntimeError("platform said no")

    async def fine() -> None:
        shown.append("fine")

    updater = CoalescingUpdater(interval=0.0)
    updater.push(broken)
    await asyncio.wait_for(failed.wait(), 2)
    updater.push(fine)
    await updater.drain()
    assert shown == ["fine"]
