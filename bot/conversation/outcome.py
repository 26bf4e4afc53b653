"""One answer's state while it runs, and storing how it ended: the run row, its layers, the thread's turns.

Storing an outcome is also the check that the run is still this process's: one that stalled past its
lease may have been taken over meanwhile (`RunState.taken_over`), and then the other process answers it.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, replace

from bot.conversation.keeper import StorageKeeper
from bot.conversation.mention import Mention, clean_text
from bot.surface import FinalAnswer, Progress, ReplySurface
from bot.text.redact import Redactor
from moa.events import LayerResult, ProposerFinished, RunFailed, RunFinished
from moa.run.engine import layer_cost
from storage.db import Database
from storage.models import ProposerRecord, RunStatus

log = logging.getLogger(__name__)

INTERRUPTED = "The bot restarted before this answer was finished — please ask again."


@dataclass
class RunState:
    """One answer's storage state: its run row (None when it could not be stored) and what is kept."""

    run_id: int | None
    keeper: StorageKeeper
    notes: tuple[str, ...] = ()
    handle: str | None = None  # the status message's handle as last stored
    saved: bool = False  # the outcome (and layers) reached storage
    taken_over: bool = False  # another process claimed the run (this one stalled past its lease)
    settled: bool = False  # an outcome was decided (stored or not)
    ticket: int | None = None  # its place in line for the models' budgets, claimed when admitted


@dataclass
class RunsHere:
    """What this process is answering now, shared by answering, recovery and the heartbeat."""

    live: dict[int, RunState] = field(default_factory=dict)  # runs being answered, checked for take-overs
    # Runs whose outcome could not be stored (storage failed): retried with every heartbeat.
    unsettled: dict[int, tuple[RunStatus, str | None]] = field(default_factory=dict)
    closing: bool = False  # shutting down: no new answers


class OwnedSurface:
    """A run's surface that goes quiet once the run is taken over: the claiming process, which answers it
    again, owns the thread's status from then on."""

    def __init__(self, inner: ReplySurface, state: RunState) -> None:
        self._inner = inner
        self._state = state
        self.min_update_interval = inner.min_update_interval

    async def show_progress(self, progress: Progress) -> None:
        if not self._state.taken_over:
            await self._inner.show_progress(progress)

    async def stream_answer(self, partial: str) -> None:
        if not self._state.taken_over:
            await self._inner.stream_answer(partial)

    async def finish(self, answer: FinalAnswer) -> list[str]:
        return [] if self._state.taken_over else await self._inner.finish(answer)

    async def fail(self, message: str, run_id: int | None) -> None:
        if not self._state.taken_over:
            await self._inner.fail(message, run_id)

    def handle(self) -> str | None:
        return self._inner.handle()


class OutcomeRecorder:
    """Stores and delivers how each answer ended (done, failed, interrupted), once."""

    def __init__(self, db: Database, redactor: Redactor, here: RunsHere) -> None:
        self.db = db
        self._redactor = redactor
        self._here = here

    def redact(self, text: str) -> str:
        return self._redactor.redact(text)

    async def remember_status(self, state: RunState, surface: ReplySurface) -> None:
        """Store where the status message lives, so a restart can replace it rather than leave it frozen."""
        if state.run_id is None:
            return
        try:
            handle = surface.handle()
        except Exception:  # a surface without a usable handle is just not recoverable
            log.debug("surface handle failed", exc_info=True)
            return
        if handle is None or handle == state.handle:
            return
        state.handle = handle
        run_id = state.run_id
        await state.keeper.write("recording the status message", lambda: self.db.runs.set_surface(run_id, handle))

    async def finish(self, mention: Mention, question: str, state: RunState, done: RunFinished,
                     notes: tuple[str, ...], surface: ReplySurface) -> None:
        """The answer: stored, added to the thread's history, then shown with its notes."""
        answer = clean_text(done.answer)
        await self.settle(state, "done", None, flat(done.layers), answer=answer, done=done)
        if state.taken_over:
            return
        await self.save_turns(mention, state, question, answer)
        warning = state.keeper.warning()
        shown_run = state.run_id if state.saved else None
        message_ids = await surface.finish(FinalAnswer(answer, shown_run,
                                                       (*notes, *([warning] if warning else [])),
                                                       verdict=done.verdict))
        if message_ids and shown_run is not None:
            await state.keeper.write("indexing the answer's messages",
                                     lambda: self.db.runs.set_answer_messages(shown_run, message_ids))

    async def fail(self, mention: Mention, question: str, state: RunState, failed: RunFailed,
                   surface: ReplySurface) -> None:
        """A run that failed: stored with what its calls cost, and told in a sentence."""
        error = self.redact(failed.error)
        await self.settle(state, "failed", error, flat(failed.layers), usage=failed)
        if state.taken_over:
            return
        await self.save_turns(mention, state, question)
        await surface.fail(error, state.run_id if state.saved and failed.layers else None)

    async def interrupt(self, mention: Mention, question: str, state: RunState,
                        outputs: list[ProposerFinished], surface: ReplySurface) -> None:
        """A run cut short by shutdown: stored with the layers it had, and the thread told to ask again."""
        await self.settle(state, "interrupted", INTERRUPTED, outputs)
        if state.taken_over:
            return
        await self.save_turns(mention, state, question)
        with contextlib.suppress(Exception):
            await surface.fail(INTERRUPTED, state.run_id if state.saved and outputs else None)

    async def settle(self, state: RunState, status: RunStatus, error: str | None,
                     outputs: list[ProposerFinished] | None = None, *, answer: str | None = None,
                     done: RunFinished | None = None, usage: RunFailed | None = None) -> None:
        """Store the run's outcome; when storage fails, keep trying in the background so a restart does
        not mistake a delivered answer for a cut-off one."""
        state.settled = True
        run_id = state.run_id
        if run_id is None:
            return
        spent = done or usage
        # What any layer view will show: text storage accepts, errors without secrets.
        kept = [replace(out, text=clean_text(out.text), error=self.redact(out.error) if out.error else None)
                for out in outputs or []]
        stored = await state.keeper.value("saving the run", lambda: self.db.runs.finish(
            run_id, status=status, answer=answer, error=error, proposers=records(kept),
            total_s=done.timings.total_s if done else None,
            prompt_tokens=spent.usage.prompt_tokens if spent else None,
            completion_tokens=spent.usage.completion_tokens if spent else None,
            # a failed run's calls cost money too: usage and budgets count them
            cost_usd=done.cost_usd if done else layer_cost(flat(usage.layers)) if usage else None,
            owner=self.db.owner, cached_tokens=spent.usage.cached_tokens if spent else None,
            usage_estimated=bool(spent and spent.usage.estimated), answer_model=done.model if done else None))
        state.saved = stored.ran and stored.value is True
        if stored.ran and not stored.value:
            state.taken_over = True
            log.warning("run %s was taken over by another process while this one stalled; its %s outcome "
                        "is not delivered here", run_id, status)
        elif not stored.ran:
            self._here.unsettled[run_id] = (status, error)

    async def discard(self, state: RunState) -> None:
        """Drop the row of a question refused before it ran (over budget): it was never an answer."""
        state.settled = True
        run_id = state.run_id
        if run_id is not None:
            await state.keeper.write("dropping a refused question", lambda: self.db.runs.discard(run_id))

    async def save_turns(self, mention: Mention, state: RunState, question: str, answer: str | None = None) -> None:
        """The exchange joins the thread's history (the question alone when there was no answer)."""
        author = mention.author_name or mention.author
        if await state.keeper.write("saving the question", lambda: self.db.turns.add(
                mention.channel, mention.thread, "user", author, question)) and answer is not None:
            await state.keeper.write("saving the answer", lambda: self.db.turns.add(
                mention.channel, mention.thread, "assistant", "moa", answer))

    async def settle_later(self) -> None:
        """Store the outcomes storage refused earlier, so a restart never answers them twice."""
        for run_id, (status, error) in list(self._here.unsettled.items()):
            try:
                await self.db.runs.set_status(run_id, status, error, owner=self.db.owner)
            except Exception as err:
                log.debug("run %s outcome still not stored: %r", run_id, err)
                return
            self._here.unsettled.pop(run_id, None)


def flat(layers: tuple[LayerResult, ...]) -> list[ProposerFinished]:
    """Every proposer output of every layer, in order."""
    return [out for layer in layers for out in layer.outputs]


def records(outputs: list[ProposerFinished]) -> list[ProposerRecord]:
    """Proposer outputs as storage keeps them."""
    return [
        ProposerRecord(layer=out.layer, agent=out.agent, model=out.model, text=out.text,
                       latency_s=out.latency_s,
                       prompt_tokens=out.usage.prompt_tokens if out.usage else None,
                       completion_tokens=out.usage.completion_tokens if out.usage else None,
                       error=out.error, cached_tokens=out.usage.cached_tokens if out.usage else None,
                       cut=out.cut, usage_estimated=bool(out.usage and out.usage.estimated),
                       queued_s=out.queued_s)
        for out in outputs
    ]
