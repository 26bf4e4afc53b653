"""Runs cut off by a crash or an expired lease: answered once, by a process that serves their platform.

Real groq SDK against the fake Groq; real SQLite files and a real PostgreSQL shared by two services.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.conversation.service import RESUMED_NOTE, ConversationService
from bot.surface import Progress
from storage import ChannelKey, Database, UnfinishedRun
from tests.bot.conversation.helpers import GENERAL, RecordingSurface, mention, settings_for
from tests.fakes.groq_server import FakeGroq

DISCORD = ChannelKey("discord", "G1", "C-discord")


class StallingSurface(RecordingSurface):
    """Its first status update hangs until `resume` is set: the process answering through it stalls."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = asyncio.Event()
        self.resume = asyncio.Event()

    async def show_progress(self, progress: Progress) -> None:
        await super().show_progress(progress)
        if not self.resume.is_set():
            self.stalled.set()
            await self.resume.wait()


class Rebuilder:
    """What an adapter gives `recover`: a fresh surface for each cut-off run, remembered for the test."""

    def __init__(self) -> None:
        self.surfaces: dict[int, RecordingSurface] = {}

    async def __call__(self, run: UnfinishedRun) -> RecordingSurface:
        self.surfaces[run.id] = RecordingSurface()
        return self.surfaces[run.id]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeGroq]:
    async with FakeGroq() as server:
        yield server


async def _replica(fake: FakeGroq, postgres_url: str, tmp_path: Path, heartbeat_s: str = "3600") -> ConversationService:
    """A service on the shared database. Heartbeats far apart unless asked: the test decides when a lease
    runs out (by moving a heartbeat into the past)."""
    return await ConversationService.create(settings_for(fake, tmp_path / "unused.db", MOA_DATABASE_URL=postgres_url,
                                                      MOA_LEASE_HEARTBEAT=heartbeat_s, MOA_LEASE_EXPIRY="7200"))


@pytest_asyncio.fixture
async def replicas(fake: FakeGroq, postgres_url: str,
                   tmp_path: Path) -> AsyncIterator[tuple[ConversationService, ConversationService]]:
    """Two services on one PostgreSQL database: the one that will stall, and the survivor."""
    stalled = await _replica(fake, postgres_url, tmp_path)
    survivor = await _replica(fake, postgres_url, tmp_path)
    yield stalled, survivor
    await stalled.aclose()
    await survivor.aclose()


async def test_a_replica_that_stalled_past_its_lease_does_not_answer_a_second_time(
        fake: FakeGroq, replicas: tuple[ConversationService, ConversationService]) -> None:
    stalled, survivor = replicas
    stuck = StallingSurface()
    answering = asyncio.create_task(stalled.handle_mention(mention("who answers this?"), stuck))
    async with asyncio.timeout(10):
        await stuck.stalled.wait()
    # Silent longer than its lease (as after a long GC pause or a frozen VM): the survivor takes over.
    await stalled.db.owners.heartbeat(stalled.db.owner, now=time.time() - 10_000)
    rebuild = Rebuilder()
    await survivor.recover("slack", rebuild)  # claims the run and answers it again
    [(original, resumed)] = rebuild.surfaces.items()
    assert resumed.final is not None and RESUMED_NOTE in resumed.final.warnings

    stuck.resume.set()  # the stalled process wakes up and writes its answer too…
    assert await asyncio.wait_for(answering, 20) == original
    assert stuck.final is None and stuck.failure is None  # …but does not deliver it: one answer only

    run = await survivor.db.runs.get(original, GENERAL)
    assert run is not None and run.status == "interrupted"  # the stalled outcome did not overwrite it
    answer = await survivor.db.runs.latest(GENERAL, "t1")
    assert answer is not None and answer.status == "done" and answer.id != original
    assert await survivor.db.turns.count(GENERAL, "t1") == 2  # one question, one answer in the history


async def test_a_replica_that_notices_its_run_was_taken_over_stops_answering_it_and_stays_quiet(
        fake: FakeGroq, postgres_url: str, tmp_path: Path) -> None:
    stalled = await _replica(fake, postgres_url, tmp_path, heartbeat_s="0.2")  # checks its runs every heartbeat
    survivor = await _replica(fake, postgres_url, tmp_path)
    try:
        stuck = StallingSurface()
        answering = asyncio.create_task(stalled.handle_mention(mention("who answers this?"), stuck))
        async with asyncio.timeout(10):
            await stuck.stalled.wait()
        calls_before = len(fake.calls)
        # Its lease runs out (its own heartbeat may renew it in between: claim until the survivor has it).
        claimed: list[UnfinishedRun] = []
        async with asyncio.timeout(10):
            while not claimed:
                await stalled.db.owners.heartbeat(stalled.db.owner, now=time.time() - 10_000)
                await survivor.claim_cut_off(["slack"])
                claimed = survivor.take_unfinished("slack")
        [run] = claimed
        # With its next heartbeat the stalled process finds the run is no longer its own…
        async with asyncio.timeout(10):
            while not stalled._here.live[run.id].taken_over:  # noqa: ASYNC110 - set by its heartbeat, not an event
                await asyncio.sleep(0.05)

        stuck.resume.set()
        assert await asyncio.wait_for(answering, 10) == run.id
        # …so it stops at once: no more model calls, nothing more in the thread.
        assert len(fake.calls) == calls_before
        assert len(stuck.progress) == 1 and not stuck.partials
        assert stuck.final is None and stuck.failure is None
    finally:
        await stalled.aclose()
        await survivor.aclose()


async def test_a_replica_stopping_after_its_answers_were_taken_over_tells_no_one_they_were_interrupted(
        fake: FakeGroq, replicas: tuple[ConversationService, ConversationService]) -> None:
    stalled, survivor = replicas
    running, queued = StallingSurface(), RecordingSurface()
    tasks = [asyncio.create_task(stalled.handle_mention(mention("first"), running))]
    async with asyncio.timeout(10):
        await running.stalled.wait()
    # One answer at a time per channel: the second question waits in the queue behind the stalled one.
    tasks.append(asyncio.create_task(stalled.handle_mention(mention("second", thread="t2", message_id="m2"),
                                                            queued)))
    await queued.wait_for(lambda s: bool(s.progress))
    await stalled.db.owners.heartbeat(stalled.db.owner, now=time.time() - 10_000)
    rebuild = Rebuilder()
    await survivor.recover("slack", rebuild)
    assert len(rebuild.surfaces) == 2 and all(s.final is not None for s in rebuild.surfaces.values())

    await stalled.drain(grace_s=0.05)  # the stalled process is stopped (SIGTERM) with both still its own
    for task in tasks:
        with pytest.raises(asyncio.CancelledError):
            await task
    assert running.failure is None and queued.failure is None  # no "interrupted" beside the answers


async def _crash_with_questions(path: Path, *channels: ChannelKey) -> list[int]:
    """A process that recorded a running question in each channel and died without settling them."""
    db = await Database.open(path)
    try:
        return [await db.runs.start(channel, "t1", f"m-{channel.platform}", f"asked on {channel.platform}", "{}",
                                    owner=db.owner, author="U1") for channel in channels]
    finally:
        await db.close()


async def test_a_restart_without_discord_leaves_discords_cut_off_runs_for_a_process_that_runs_it(
        fake: FakeGroq, tmp_path: Path) -> None:
    path = tmp_path / "moa.db"
    slack_run, discord_run = await _crash_with_questions(path, GENERAL, DISCORD)

    slack_only = await ConversationService.create(settings_for(fake, path))
    try:
        slack = Rebuilder()
        await slack_only.recover("slack", slack)
        assert list(slack.surfaces) == [slack_run]
        assert slack.surfaces[slack_run].final is not None
        left = await slack_only.db.runs.get(discord_run, DISCORD)
        assert left is not None and left.status == "running"  # not claimed: nobody here could tell its asker
    finally:
        await slack_only.aclose()

    both = await ConversationService.create(settings_for(fake, path))  # Discord is switched on again
    try:
        discord, slack = Rebuilder(), Rebuilder()
        await both.recover("slack", slack)
        await both.recover("discord", discord)
        assert slack.surfaces == {}  # answered already, never twice
        assert list(discord.surfaces) == [discord_run]
        resumed = discord.surfaces[discord_run].final
        assert resumed is not None and RESUMED_NOTE in resumed.warnings
    finally:
        await both.aclose()
