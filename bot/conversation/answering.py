"""Answering one mention: refuse what must be refused, wait a fair turn, drive the engine, show and store.

The path: the channel's config (or an experiment's arm), the member's and channel's budgets, the run
recorded as `queued`, the thread's history (read once: admission weighs it, the engine is sent it), what
the mention brought (its files, the thread it was tagged into: read before it waits, so reading never holds
another answer's turn), a slot in the fair gate, then the engine's events rendered through the surface and
the outcome stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from functools import partial

from bot.conversation.budgets import over_budget
from bot.conversation.experiments import ArmTurn, experiment_turn
from bot.conversation.gate import FairGate, QueueFull
from bot.conversation.keeper import StorageKeeper, failure_note, read
from bot.conversation.mention import Mention, clean_text
from bot.conversation.outcome import INTERRUPTED, OutcomeRecorder, OwnedSurface, RunsHere, RunState
from bot.conversation.progress import ProgressTracker
from bot.conversation.reading import FILES_ONLY, Reading, models_of, read_attachments
from bot.conversation.thread_context import ThreadContext, read_thread
from bot.conversation.throttle import CoalescingUpdater
from bot.observe.answer_report import AnswerReport
from bot.observe.traces import start_answer
from bot.settings import Settings
from bot.surface import Progress, ReplySurface
from bot.text.render import render_failure
from moa.config.labels import config_label
from moa.config.schema import MoaConfig, parse_config
from moa.errors import ConfigError
from moa.events import (
    AggregatorDelta,
    AggregatorStarted,
    BudgetWaiting,
    LayerStarted,
    ProposerFinished,
    RunFailed,
    RunFinished,
    Turn,
)
from moa.messages.prompts import HISTORY_BLOCK_TURNS, keep_whole_blocks
from moa.plan.demand import AnswerPlan
from moa.run.engine import MoaEngine
from storage.db import Database
from storage.models import ChannelKey, StoredConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Brought:
    """What a mention brought, read before it waits for a slot: its files, and the thread it was tagged into."""

    reading: Reading
    context: ThreadContext | None = None

    @property
    def turns(self) -> list[Turn]:
        return list(self.context.turns) if self.context is not None else []


BUSY = "I'm answering too many questions right now — please ask again in a minute."


class Answerer:
    """Answers mentions, each exactly once, through the surface its adapter gives."""

    def __init__(self, settings: Settings, db: Database, engine: MoaEngine, gate: FairGate, here: RunsHere,
                 recorder: OutcomeRecorder) -> None:
        self.settings = settings
        self.db = db
        self.engine = engine
        self._gate = gate
        self._here = here
        self._recorder = recorder

    def refusal(self, question: str) -> str | None:
        """Why this question will not be answered (empty, too long, shutting down), or None."""
        if self._here.closing:
            return "The bot is restarting — please ask again in a minute."
        if not question:
            return ("Ask me something after the mention, e.g. “@moa is 9.11 or 9.9 larger?”. "
                    "`/moa help` lists commands.")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            return (f"That question is {len(question):,} characters; the limit is {limit:,}. "
                    "Please shorten it or split it into parts.")
        return None

    def config_from(self, stored: StoredConfig | None) -> MoaConfig:
        """A stored config parsed within the limits; none stored is the deployment's (MOA_CONFIG or built-in)."""
        if stored is None:
            return self.settings.default_config
        return parse_config(stored.config_json, limits=self.settings.limits)

    async def answer(self, mention: Mention, surface: ReplySurface, notes: tuple[str, ...]) -> int | None:
        """Answer one (cleaned) mention; the run id when a run was stored."""
        question = mention.text.strip() or (FILES_ONLY if mention.attachments else "")
        refusal = self.refusal(question)
        if refusal is not None:
            await surface.fail(refusal, None)
            return None
        try:
            config, config_note = await self._config_for(mention.channel)
        except ConfigError as err:
            await surface.fail(f"This channel's MoA config no longer fits the limits: {err} "
                               "An admin can fix it with `/moa reset`.", None)
            return None
        if await self._over_budget(mention, surface):
            return None
        turn = await experiment_turn(self.db, mention.channel, self.settings.limits)
        if turn is not None:  # an experiment runs here: its arm answers, in turn
            config, config_note = turn.config, None
        config_json = config.export_json()
        state = await self._record_question(mention, question, config, config_json, turn,
                                            (*notes, *([config_note] if config_note else [])))
        run_id, keeper = state.run_id, state.keeper
        waited = False

        async def tell_position(ahead: int) -> None:
            nonlocal waited
            waited = True
            await surface.show_progress(Progress(layer=0, total_layers=config.layers, queued_ahead=ahead))
            await self._recorder.remember_status(state, surface)

        # Read once: admission counts the whole prompt, the thread's history included, and the engine is sent it.
        history = await self._history(mention, block=_history_block(config))
        try:
            # Files and the thread are read before a slot is taken: a stalled download or a slow PDF costs
            # this answer its reading budgets, never another channel its turn.
            try:
                brought = await self._read_brought(mention, config, surface, state, bool(history[0]))
            except Exception as err:  # a surprise while reading: a failed answer told to the person, never silence
                log.exception("reading what run %s brought failed", state.run_id)
                await self._recorder.settle(state, "failed", repr(err))
                await surface.fail(self._recorder.redact(render_failure(err)), None)
                return None
            asked = brought.reading.question(question)
            # Admission weighs the plan; the run paces by it.
            plan = self.engine.plan(asked, config, history[0] or brought.turns)
            async with self._gate.slot(mention.channel, tell_position, plan.needs()) as state.ticket:
                if self._here.closing:
                    await self._recorder.settle(state, "interrupted", INTERRUPTED)
                    if not state.taken_over:  # else the process that took it over answers it
                        await surface.fail(INTERRUPTED, None)
                    return None
                # What finished while this one queued counts; one let in at once was checked just now.
                if waited and await self._over_budget(mention, surface, exclude_run=run_id):
                    await self._recorder.discard(state)
                    return None
                if run_id is not None and (started := await keeper.value("starting a run", lambda: (
                        self.db.runs.set_running(run_id, config_json, owner=self.db.owner)))).ran and not started.value:
                    state.settled = state.taken_over = True  # stalled past its lease: another process has it
                    log.warning("run %s was taken over by another process before it started; not answering "
                                "it here", run_id)
                    return None
                if waited:  # answers that finished meanwhile (one may be in this thread) join its history
                    history = await self._history(mention, block=_history_block(config))
                    plan = self.engine.plan(asked, config, history[0] or brought.turns)
                return await self._run(mention, question, config, surface, state, history, brought, plan)
        except QueueFull:
            await self._recorder.settle(state, "failed", BUSY)
            await surface.fail(BUSY, None)
            return None
        except asyncio.CancelledError:  # cancelled while reading or waiting in the queue (shutdown)
            if not state.settled:
                await asyncio.shield(self._recorder.settle(state, "interrupted", INTERRUPTED))
                if not state.taken_over:  # else the process that took it over answers it
                    with contextlib.suppress(Exception):
                        await asyncio.shield(surface.fail(INTERRUPTED, None))
            raise

    async def _record_question(self, mention: Mention, question: str, config: MoaConfig, config_json: str,
                               turn: ArmTurn | None, notes: tuple[str, ...]) -> RunState:
        """The run row, recorded `queued` before the answer waits (a restart finds the question even if it
        never got a turn), with the experiment's arm that answers it."""
        keeper = StorageKeeper()
        run_id = (await keeper.value("recording a question", lambda: self.db.runs.start(
            mention.channel, mention.thread, mention.message_id, question, config_json,
            status="queued", owner=self.db.owner, author=mention.author, author_name=mention.author_name,
            config_label=config_label(config)))).value
        if turn is not None and run_id is not None:
            await keeper.value("recording the experiment's arm", partial(
                self.db.experiments.record, run_id, turn.experiment_id, turn.arm))
        return RunState(run_id, keeper, notes)

    async def _read_brought(self, mention: Mention, config: MoaConfig, surface: ReplySurface, state: RunState,
                            has_history: bool) -> Brought:
        """The mention's files and (tagged into a thread with nothing stored) the thread's earlier
        messages, read side by side; the status says what is being read meanwhile."""
        thread = mention.earlier if not has_history else None
        if not mention.attachments and thread is None:
            return Brought(Reading())
        what = [a.name or "a file" for a in mention.attachments] + (["this thread"] if thread else [])
        try:
            await surface.show_progress(Progress(layer=0, total_layers=config.layers, reading=tuple(what)))
            await self._recorder.remember_status(state, surface)
        except Exception:  # the reading goes on; the next status may work
            log.warning("could not show the reading status", exc_info=True)
        limits = self.settings.file_limits
        files = read_attachments(mention.attachments, limits)
        if thread is None:
            return Brought(await files)
        reading, context = await asyncio.gather(files, read_thread(thread, self.settings.history_token_budget,
                                                                   limits))
        return Brought(reading, context)

    async def _over_budget(self, mention: Mention, surface: ReplySurface, exclude_run: int | None = None) -> bool:
        """Budgets bind admins too; a mention over one is told so (True) and costs no model call.

        `exclude_run` is the mention's own queued run, which must not count against it. When storage
        cannot be read the budget is not enforced: an answer matters more than a cap.
        """
        over, _ = await read("checking budgets", lambda: over_budget(
            self.db, mention.channel, mention.author, self.settings.budget_member_answers,
            self.settings.budget_channel_tokens, exclude_run=exclude_run), None)
        if over is not None:
            await surface.fail(over, None)
        return over is not None

    async def _config_for(self, channel: ChannelKey) -> tuple[MoaConfig, str | None]:
        """The channel's config — or, when storage cannot be read, the default and a note saying so."""
        stored, failure = await read("loading a config", lambda: self.db.configs.effective(channel), None)
        if failure is not None:
            return self.settings.default_config, failure_note(failure, "this answer used the default setup, not "
                                                                       "this channel's.")
        return self.config_from(stored), None

    async def _run(self, mention: Mention, question: str, config: MoaConfig, surface: ReplySurface,
                   state: RunState, loaded: tuple[list[Turn], str | None], brought: Brought,
                   plan: AnswerPlan) -> int | None:
        surface = OwnedSurface(surface, state)  # quiet once another process has taken the run over
        recorder = self._recorder
        if state.run_id is not None:
            self._here.live[state.run_id] = state
        progress = ProgressTracker(config, recorder.redact)
        try:
            await surface.show_progress(progress.snapshot())  # at once: something visible within a second
        except Exception:  # the next update may work; the answer must not depend on it
            log.warning("could not show the first status", exc_info=True)
        shown_at = time.monotonic()
        await recorder.remember_status(state, surface)
        history, history_note = loaded
        updater = CoalescingUpdater(surface.min_update_interval, last_update=shown_at)

        outputs: list[ProposerFinished] = []  # kept so an interrupted or crashed run still shows its layers
        crashed: Exception | None = None
        answer = ""
        report = AnswerReport(mention.channel)  # the answer's log line and metrics, at its end
        answer_trace = start_answer(config, question, channel=mention.channel, thread=mention.thread,
                                    run_id=state.run_id)
        try:
            reading = brought.reading
            if not history and brought.context is not None:  # tagged into a thread it has not answered in
                context = brought.context
                history, history_note = list(context.turns), context.note or history_note
                reading = reading.with_images(context.images)
            asked = reading.question(question)
            async with contextlib.aclosing(self.engine.run(asked, config, history, state.ticket, reading.shown,
                                                          plan)) as events:
                async for event in events:
                    if state.taken_over:  # another process answers it now: stop spending on it here
                        log.warning("run %s was taken over by another process while this one stalled; "
                                    "stopping it here", state.run_id)
                        break
                    report.see(event)
                    answer_trace.see(event)
                    match event:
                        case LayerStarted() | ProposerFinished() | AggregatorStarted() | BudgetWaiting():
                            if isinstance(event, ProposerFinished):
                                outputs.append(event)
                            if isinstance(event, AggregatorStarted) and event.restarted:
                                answer = ""  # a fallback aggregator starts the answer over
                            progress.apply(event)
                            if not answer:  # an early answer's opening stays in view while layers finish
                                updater.push(partial(surface.show_progress, progress.snapshot()))
                        case AggregatorDelta(text=piece):
                            answer += piece
                            updater.push(partial(surface.stream_answer, clean_text(answer)))
                        case RunFinished():
                            await updater.settle()
                            notes = (*event.warnings, *([history_note] if history_note else []), *state.notes,
                                     *reading.notes(models_of(config)))
                            await recorder.finish(mention, question, state, event, notes, surface)
                        case RunFailed():
                            await updater.settle()
                            await recorder.fail(mention, question, state, event, surface)
        except asyncio.CancelledError:
            await updater.settle()
            await asyncio.shield(recorder.interrupt(mention, question, state, outputs, surface))
            raise
        except Exception as err:  # never leave a mention unanswered
            crashed = err  # handled here, so the finally below no longer sees it
            log.exception("run %s crashed", state.run_id)
            await updater.settle()
            await recorder.settle(state, "failed", repr(err), outputs)
            if not state.taken_over:
                await recorder.save_turns(mention, state, question)
                await surface.fail(recorder.redact(render_failure(err)), state.run_id if state.saved else None)
        finally:
            ended = sys.exc_info()[1] or crashed
            report.end(ended)
            answer_trace.end(ended)
            if state.run_id is not None:
                self._here.live.pop(state.run_id, None)
        return state.run_id

    async def _history(self, mention: Mention, block: int = 1) -> tuple[list[Turn], str | None]:
        """The thread's earlier turns within the budget, and a note when older ones were left out (in
        whole `block`s of turns, so the history's start moves seldom: see moa.messages.prompts.keep_whole_blocks)."""
        budget = self.settings.history_token_budget

        async def load() -> tuple[list[Turn], int]:
            stored = await self.db.turns.history(mention.channel, mention.thread, budget)
            total = await self.db.turns.count(mention.channel, mention.thread)
            return [Turn(role=t.role, text=t.text, author=t.author) for t in stored], total

        empty: tuple[list[Turn], int] = ([], 0)
        (turns, total), failure = await read("loading the thread's history", load, empty)
        if failure is not None:
            return [], failure_note(failure, "this answer could not see the thread's earlier messages.")
        turns = keep_whole_blocks(turns, total, block)
        if total > len(turns):
            return turns, (f"Only the last {len(turns)} of {total} earlier messages in this thread fit the "
                           f"history budget ({budget:,} tokens).")
        return turns, None


def _history_block(config: MoaConfig) -> int:
    """Turns leave the history in whole blocks with a layout that caches the thread, one by one with classic."""
    return 1 if config.prompt_layout == "classic" else HISTORY_BLOCK_TURNS
