"""Runs a gone process left: claimed per platform, then answered again when recent or told to ask again.

After a crash the next process claims the runs whose owner is gone (SQLite knows from its file lock;
replicas on PostgreSQL judge by the owners' heartbeats), and each replica's heartbeat also claims the runs
of replicas whose lease expired. A claim makes the run the claimer's; the old owner delivers nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.conversation.mention import Mention, RebuildSurface
from bot.conversation.outcome import RunsHere
from bot.surface import ReplySurface
from storage.db import Database
from storage.errors import describe
from storage.models import UnfinishedRun

log = logging.getLogger(__name__)

# Shown after a crash (no graceful shutdown told them) in place of the status of each answer that never came.
RESTART_NOTICE = "⚠️ I restarted before I could finish answering this — please ask again."
RESUMED_NOTE = "I restarted while answering this, so I answered it again from the start."
RECOVER_WITHIN_S = 600.0  # questions cut off by a crash more recently than this are answered after restart

AnswerMention = Callable[[Mention, ReplySurface, tuple[str, ...]], Awaitable[int | None]]


class Recovery:
    """Claims cut-off runs and answers or tells them through surfaces the adapters rebuild."""

    def __init__(self, db: Database, here: RunsHere, answer: AnswerMention) -> None:
        self.db = db
        self._here = here
        self._answer = answer
        self._unfinished: list[UnfinishedRun] = []  # claimed cut-off runs not yet answered or told
        self._claims_pending: set[str] = set()  # platforms whose cut-off runs could not be claimed yet
        # How each adapter rebuilds a cut-off run's surface; runs taken over from a replica use them too.
        self._rebuilders: dict[str, RebuildSurface] = {}
        self._takeovers: set[asyncio.Task[None]] = set()

    @property
    def claims_pending(self) -> bool:
        """Whether a claim storage refused is waiting to be tried again."""
        return bool(self._claims_pending)

    async def claim_cut_off(self, platforms: list[str]) -> None:
        """Claim the runs on `platforms` whose owner is gone (a crash; an expired lease), to answer or tell
        them from here. Only platforms this process serves claim theirs: another platform's runs wait for a
        process that runs its adapter. A claim storage refuses is retried with the heartbeat."""
        try:
            taken = await self.db.runs.take_cut_off(self.db.owners.live_since(), platforms=platforms,
                                                    by=self.db.owner)
        except Exception as err:
            log.warning("could not look for answers the last process left (%s); trying again later",
                        describe(err))
            self._claims_pending.update(platforms)
            return
        self._claims_pending.difference_update(platforms)
        if taken:
            log.info("claimed %d answers a gone process left on %s", len(taken), ", ".join(platforms))
        self._unfinished.extend(taken)

    def take_unfinished(self, platform: str) -> list[UnfinishedRun]:
        """Claimed runs on `platform` not yet answered or told; handed out once."""
        taken = [run for run in self._unfinished if run.channel.platform == platform]
        self._unfinished = [run for run in self._unfinished if run.channel.platform != platform]
        return taken

    async def recover(self, platform: str, rebuild: RebuildSurface, now: float | None = None) -> None:
        """Answer the questions a dead process left on `platform` — again when recent, else tell them to
        ask again — through surfaces rebuilt from their stored handles, so no old status stays frozen."""
        self._rebuilders[platform] = rebuild
        await self.claim_cut_off([platform])
        now = time.time() if now is None else now
        answers = []
        for run in self.take_unfinished(platform):
            try:
                surface = await rebuild(run)
            except Exception:  # e.g. the channel is gone: nobody left to tell
                log.warning("could not reach the thread of unfinished run %s", run.id, exc_info=True)
                continue
            if surface is None:
                continue
            if run.question and now - run.started_at < RECOVER_WITHIN_S:
                mention = Mention(run.channel, run.thread, run.trigger_message_id, run.author, run.question,
                                  run.author_name)
                answers.append(self._answer(mention, surface, (RESUMED_NOTE,)))
            else:
                try:
                    await surface.fail(RESTART_NOTICE, None)
                except Exception:
                    log.warning("could not tell the thread of run %s to ask again", run.id, exc_info=True)
        if answers:
            log.info("answering %d questions the last process left unanswered", len(answers))
            for result in await asyncio.gather(*answers, return_exceptions=True):
                if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                    log.error("answering a recovered question failed", exc_info=result)

    async def notice_taken_over(self) -> None:
        """Mark the runs being answered here that another process claimed (this one stalled past its
        lease): they stop at their next event and show nothing more; the claimer answers them."""
        if not self._here.live:
            return
        try:
            lost = await self.db.runs.taken_from(self.db.owner, list(self._here.live))
        except Exception as err:
            log.debug("checking for taken-over runs failed: %r", err)
            return
        for run_id in lost:
            if (state := self._here.live.get(run_id)) is not None:
                state.taken_over = True

    async def take_over(self) -> None:
        """Claim the runs of replicas whose lease expired, and answer or tell them from here (in the
        background: the heartbeat must go on meanwhile, or this process would look gone too)."""
        if not self._rebuilders or self._here.closing:
            return
        before = len(self._unfinished)
        await self.claim_cut_off(list(self._rebuilders))
        if len(self._unfinished) == before:
            return
        for platform, rebuild in self._rebuilders.items():
            task = asyncio.create_task(self.recover(platform, rebuild))
            self._takeovers.add(task)
            task.add_done_callback(self._takeovers.discard)
