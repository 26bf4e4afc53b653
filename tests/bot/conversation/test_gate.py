"""The fair gate: caps overall and per channel, FIFO order, positions told to waiters."""

from __future__ import annotations

import asyncio

import pytest

from bot.conversation.gate import FairGate, QueueFull


async def _until(predicate, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0)


async def test_busy_channel_queues_while_other_channels_run() -> None:
    gate = FairGate(max_total=4, max_per_lane=1, max_waiting=10)
    release = asyncio.Event()
    started: list[str] = []

    async def answer(channel: str, name: str) -> None:
        async with gate.slot(channel):
            started.append(name)
            await release.wait()

    tasks = [asyncio.create_task(answer("c1", "c1-first")), asyncio.create_task(answer("c1", "c1-second")),
             asyncio.create_task(answer("c2", "c2-first"))]
    await _until(lambda: len(started) == 2)
    assert started == ["c1-first", "c2-first"]  # c2 is not held up by c1's queue
    assert gate.waiting == 1
    release.set()
    await asyncio.gather(*tasks)
    assert started[-1] == "c1-second"


async def test_waiters_are_told_their_position_as_the_queue_moves() -> None:
    gate = FairGate(max_total=1, max_per_lane=1, max_waiting=10)
    told: dict[str, list[int]] = {"b": [], "c": []}
    releases = {name: asyncio.Event() for name in "abc"}
    order: list[str] = []

    async def answer(name: str) -> None:
        async def tell(ahead: int) -> None:
            told[name].append(ahead)

        async with gate.slot(name, tell):
            order.append(name)
            await releases[name].wait()

    tasks = [asyncio.create_task(answer("a"))]
    await _until(lambda: order == ["a"])
    tasks += [asyncio.create_task(answer("b")), asyncio.create_task(answer("c"))]
    await _until(lambda: told["c"] == [1])
    assert told["b"] == [0]
    releases["a"].set()
    await _until(lambda: order == ["a", "b"])
    await _until(lambda: told["c"] == [1, 0])
    releases["b"].set()
    releases["c"].set()
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c"]


async def test_full_queue_refuses_instead_of_growing() -> None:
    gate = FairGate(max_total=1, max_per_lane=1, max_waiting=1)
    release = asyncio.Event()

    async def hold(lane: str) -> None:
        async with gate.slot(lane):
            await release.wait()

    first = asyncio.create_task(hold("a"))
    await _until(lambda: gate.running == 1)
    second = asyncio.create_task(hold("b"))
    await _until(lambda: gate.waiting == 1)
    with pytest.raises(QueueFull):
        async with gate.slot("c"):
            pass
    release.set()
    await asyncio.gather(first, second)
    assert gate.running == 0


async def test_cancelled_waiter_gives_up_its_place() -> None:
    gate = FairGate(max_total=1, max_per_lane=1, max_waiting=5)
    release = asyncio.Event()
    ran: list[str] = []

    async def answer(name: str) -> None:
        async with gate.slot(name):
            ran.append(name)
            await release.wait()

    first = asyncio.create_task(answer("a"))
    await _until(lambda: ran == ["a"])
    doomed = asyncio.create_task(answer("b"))
    third = asyncio.create_task(answer("c"))
    await _until(lambda: gate.waiting == 2)
    doomed.cancel()
    await _until(lambda: gate.waiting == 1)
    release.set()
    await asyncio.gather(first, third)
    assert ran == ["a", "c"]
    assert gate.running == 0


class _Budget:
    """A stand-in for the pacer's admission hooks: room is whatever the test says."""

    def __init__(self) -> None:
        self.room = 0.0
        self.claimed: list[dict[str, int]] = []
        self.finished: list[int] = []
        self._watchers: list = []

    def room_s(self, demand) -> float:
        return self.room

    def claim(self, demand) -> int:
        self.claimed.append(dict(demand))
        return len(self.claimed)

    def done(self, ticket: int) -> None:
        self.finished.append(ticket)

    def watch(self, callback) -> None:
        self._watchers.append(callback)

    def free(self) -> None:
        self.room = 0.0
        for callback in self._watchers:
            callback()


async def test_beyond_the_floor_answers_start_only_while_the_budget_has_room_and_in_order() -> None:
    budget = _Budget()
    gate = FairGate(max_total=16, max_per_lane=1, max_waiting=10, admission=budget, floor=1)
    release = asyncio.Event()
    started: list[str] = []

    async def answer(name: str) -> None:
        async with gate.slot(name, needs={"m": 100}) as ticket:
            assert ticket is not None
            started.append(name)
            await release.wait()

    budget.room = float("inf")  # no room: only the floor's one answer runs
    tasks = [asyncio.create_task(answer(name)) for name in "abcd"]
    await _until(lambda: started == ["a"] and gate.waiting == 3)
    budget.free()  # the pacer tells the gate room was freed
    await _until(lambda: len(started) == 4)
    assert started == ["a", "b", "c", "d"]
    assert budget.claimed == [{"m": 100}] * 4  # every answer took its ticket when it was let in
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(budget.finished) == [1, 2, 3, 4] and gate.running == 0


async def test_room_that_comes_with_time_lets_the_next_answer_in_without_another_event() -> None:
    budget = _Budget()
    gate = FairGate(max_total=16, max_per_lane=1, max_waiting=10, admission=budget, floor=1)
    release = asyncio.Event()
    started: list[str] = []

    async def answer(name: str) -> None:
        async with gate.slot(name):
            started.append(name)
            if name == "b":
                budget.room = float("inf")
            await release.wait()

    budget.room = 0.05  # the window frees room in 50 ms
    tasks = [asyncio.create_task(answer(name)) for name in "ab"]
    await _until(lambda: started == ["a"])
    budget.room = 0.0  # …and then it has
    await _until(lambda: started == ["a", "b"])
    release.set()
    await asyncio.gather(*tasks)
