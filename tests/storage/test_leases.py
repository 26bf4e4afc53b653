"""Leases on a shared PostgreSQL database: a run is cut off only when its owner's lease expired, and then
claimed by exactly one surviving replica."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest_asyncio

from storage import ChannelKey, Database

CHANNEL = ChannelKey("slack", "T01", "C01")
EXPIRY_S = 30.0


@pytest_asyncio.fixture
async def replicas(postgres_url: str) -> AsyncIterator[list[Database]]:
    opened = [await Database.open(postgres_url, lease_expiry_s=EXPIRY_S) for _ in range(3)]
    yield opened
    for db in opened:
        await db.close()


async def _start(db: Database, question: str) -> int:
    return await db.runs.start(CHANNEL, question, f"M-{question}", question, "{}", owner=db.owner)


async def test_a_live_replicas_runs_are_never_taken(replicas: list[Database]) -> None:
    owner, other, _ = replicas
    await _start(owner, "long answer")

    # Well within its lease: another replica looking for cut-off runs finds none.
    assert await other.runs.take_cut_off(other.owners.live_since()) == []
    await owner.owners.heartbeat(owner.owner, now=time.time() + EXPIRY_S)  # renewed
    assert await other.runs.take_cut_off(other.owners.live_since(now=time.time() + EXPIRY_S + 1)) == []


async def test_an_expired_lease_hands_its_runs_to_one_survivor(replicas: list[Database]) -> None:
    dead, first, second = replicas
    started = [await _start(dead, f"q{i}") for i in range(5)]
    later = time.time() + EXPIRY_S + 1  # the dead replica's last heartbeat is now older than its lease
    for survivor in (first, second):
        await survivor.owners.heartbeat(survivor.owner, now=later)

    claims = await asyncio.gather(
        first.runs.take_cut_off(first.owners.live_since(now=later), now=later),
        second.runs.take_cut_off(second.owners.live_since(now=later), now=later))

    claimed = [run.id for claim in claims for run in claim]
    assert sorted(claimed) == started  # every run once, by one survivor or the other
    assert [run.question for run in (await first.runs.take_cut_off(first.owners.live_since(now=later)))] == []
    run = await first.runs.get(started[0], CHANNEL)
    assert run is not None and run.status == "interrupted"


async def test_a_replica_starting_takes_only_the_runs_of_dead_owners(postgres_url: str) -> None:
    alive = await Database.open(postgres_url)
    crashed = await Database.open(postgres_url)
    try:
        await _start(alive, "still being answered")
        lost = await _start(crashed, "cut off by a crash")
        await crashed.owners.heartbeat(crashed.owner, now=time.time() - 3600)  # silent for an hour
        newcomer = await Database.open(postgres_url)
        try:
            claimed = await newcomer.runs.take_cut_off(newcomer.owners.live_since(), by=newcomer.owner)
            assert [run.id for run in claimed] == [lost]
        finally:
            await newcomer.close()
    finally:
        await alive.close()
        await crashed.close()


async def test_claims_can_be_limited_to_the_platforms_a_replica_serves(replicas: list[Database]) -> None:
    dead, survivor, _ = replicas
    await _start(dead, "slack question")
    await dead.runs.start(ChannelKey("discord", "G1", "C1"), "t", "M-d", "discord question", "{}", owner=dead.owner)
    later = time.time() + EXPIRY_S + 1

    taken = await survivor.runs.take_cut_off(survivor.owners.live_since(now=later), platforms=["discord"])

    assert [run.question for run in taken] == ["discord question"]


async def _finish_as(db: Database, run_id: int) -> bool:
    return await db.runs.finish(run_id, status="done", answer="a", error=None, proposers=[], total_s=1.0,
                                prompt_tokens=1, completion_tokens=1, cost_usd=None, owner=db.owner)


async def test_a_run_is_either_finished_by_its_stalled_owner_or_taken_over_never_both(
        replicas: list[Database]) -> None:
    stalled, survivor, _ = replicas
    started = [await _start(stalled, f"q{i}") for i in range(20)]
    later = time.time() + EXPIRY_S + 1  # the owner looks gone, yet it is about to finish its runs
    await survivor.owners.heartbeat(survivor.owner, now=later)

    finished, claimed = await asyncio.gather(
        asyncio.gather(*(_finish_as(stalled, run_id) for run_id in started)),
        survivor.runs.take_cut_off(survivor.owners.live_since(now=later), by=survivor.owner))

    taken = {run.id for run in claimed}
    assert {run_id for run_id, done in zip(started, finished, strict=True) if done} == set(started) - taken
    assert await stalled.runs.taken_from(stalled.owner, started) == taken  # what it would notice at its heartbeat
    for run_id in taken:  # the old owner can no longer settle what it lost, even late
        assert await stalled.runs.set_status(run_id, "done", None, owner=stalled.owner) is False
        run = await survivor.runs.get(run_id, CHANNEL)
        assert run is not None and run.status == "interrupted"
