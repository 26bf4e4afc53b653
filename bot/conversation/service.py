"""The platform-neutral conversation service: everything Slack, Discord and the console share.

An adapter turns a platform event into a `Mention` and a `ReplySurface`; the service loads the
channel's config and the thread's history, waits its turn in a fair queue, drives the engine,
records the run, and shows status, progress and the answer through the surface.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

from bot.commands import CommandDeps, execute
from bot.commands.context import CommandContext, CommandReply  # re-exported for the tests that import them here
from bot.conversation.attachments import Attachment
from bot.conversation.budgets import over_budget
from bot.conversation.experiments import experiment_turn
from bot.conversation.feedback import record_vote
from bot.conversation.gate import FairGate, QueueFull
from bot.conversation.keeper import StorageKeeper, failure_note, read
from bot.conversation.progress import ProgressTracker
from bot.conversation.reading import FILES_ONLY, models_of, read_attachments
from bot.conversation.thread_context import EarlierReader, read_thread
from bot.conversation.throttle import CoalescingUpdater
from bot.observe.answer_report import AnswerReport
from bot.settings import Settings
from bot.surface import FinalAnswer, Progress, ReplySurface
from bot.text.redact import Redactor
from bot.text.render import render_failure
from moa.calls.providers import ProviderRegistry
from moa.config.labels import config_label
from moa.config.schema import MoaConfig, parse_config
from moa.errors import ConfigError
from moa.events import (
    AggregatorDelta,
    AggregatorStarted,
    BudgetWaiting,
    LayerResult,
    LayerStarted,
    ProposerFinished,
    RunFailed,
    RunFinished,
    Turn,
)
from moa.messages.prompts import HISTORY_BLOCK_TURNS, keep_whole_blocks
from moa.pace.budget import Need
from moa.plan.demand import ModelDemand, answer_demand
from moa.run.engine import MoaEngine, layer_cost
from storage.db import Database
from storage.errors import StorageError, describe, is_storage_failure
from storage.models import ChannelKey, ProposerRecord, RunRecord, RunStatus, StoredConfig, UnfinishedRun

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 6 * 3600
INTERRUPTED = "The bot restarted before this answer was finished — please ask again."
# Shown after a crash (no graceful shutdown told them) in place of the status of each answer that never came.
RESTART_NOTICE = "⚠️ I restarted before I could finish answering this — please ask again."
RESUMED_NOTE = "I restarted while answering this, so I answered it again from the start."
BUSY = "I'm answering too many questions right now — please ask again in a minute."
RECOVER_WITHIN_S = 600.0  # questions cut off by a crash more recently than this are answered after restart
MEMORY_CLAIMS = 10_000  # event keys remembered in memory while storage cannot record them

RebuildSurface = Callable[[UnfinishedRun], Awaitable["ReplySurface | None"]]


@dataclass(frozen=True)
class Mention:
    """A message that asks the bot something."""

    channel: ChannelKey  # the channel whose config applies (a thread's *parent* channel)
    thread: str  # where the answer goes: Slack thread_ts, Discord thread id, or the DM channel id
    message_id: str  # the asking message (Slack ts, Discord message id)
    author: str  # platform user id
    text: str  # the question, the bot's own mention removed
    author_name: str = ""  # how the models see the author in later turns (falls back to the id)
    attachments: tuple[Attachment, ...] = ()  # files on the message, read when the answer starts
    earlier: EarlierReader | None = None  # the thread's earlier messages, read when the bot has none stored


class ConversationService:
    """Loads config and history, drives the engine, records runs, renders to a ReplySurface."""

    def __init__(self, settings: Settings, db: Database, providers: ProviderRegistry,
                 engine: MoaEngine) -> None:
        self.settings = settings
        self.db = db
        self.providers = providers
        self.engine = engine
        # Beyond one answer, how many run at once follows the models' budget (the pacer wakes the gate).
        self._gate = FairGate(settings.max_concurrent_runs, settings.max_concurrent_per_channel,
                              settings.max_queue, admission=providers.pacer)
        self._answers: set[asyncio.Task[object]] = set()
        self._closing = False
        self._pruner: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._unfinished: list[UnfinishedRun] = []  # claimed cut-off runs not yet answered or told
        self._claims_pending: set[str] = set()  # platforms whose cut-off runs could not be claimed yet
        # How each adapter rebuilds a cut-off run's surface; runs taken over from a replica use them too.
        self._rebuilders: dict[str, RebuildSurface] = {}
        self._takeovers: set[asyncio.Task[None]] = set()
        self._redactor = Redactor.from_env(settings.env)
        # Runs whose outcome could not be stored (storage failed): retried with every heartbeat.
        self._unsettled: dict[int, tuple[RunStatus, str | None]] = {}
        self._claimed: OrderedDict[str, None] = OrderedDict()  # event keys seen while storage failed
        self._live: dict[int, _RunState] = {}  # runs being answered now, checked for take-overs

    @classmethod
    async def create(cls, settings: Settings) -> ConversationService:
        """Open the database and the model providers named by `settings`."""
        db = await Database.open(settings.database, lease_expiry_s=settings.lease_expiry_s)
        try:
            providers = ProviderRegistry.from_env(settings.env, call_timeout_s=settings.call_timeout_s,
                                                  deadline_s=settings.run_deadline_s)
        except BaseException:  # e.g. a malformed MOA_PROVIDERS: an open database would keep the process alive
            await db.close()
            raise
        engine = MoaEngine(providers, call_timeout_s=settings.call_timeout_s,
                           deadline_s=settings.run_deadline_s, quorum=settings.quorum or None)
        service = cls(settings, db, providers, engine)
        service._pruner = asyncio.create_task(service._prune_forever())
        service._keepalive = asyncio.create_task(service._keep_alive())
        return service

    # ---- answering ---------------------------------------------------------------------------------

    async def handle_mention(self, mention: Mention, surface: ReplySurface,
                             notes: tuple[str, ...] = ()) -> int | None:
        """Answer one mention through `surface`, exactly once; returns the run id when a run was stored.

        `notes` are shown with the answer (e.g. that it comes after a restart).
        """
        task = asyncio.current_task()
        if task is not None:
            self._answers.add(task)
        try:
            return await self._answer(_clean(mention), surface, notes)
        finally:
            if task is not None:
                self._answers.discard(task)

    async def _answer(self, mention: Mention, surface: ReplySurface, notes: tuple[str, ...]) -> int | None:
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
        keeper = StorageKeeper()
        config_json = config.export_json()
        # Recorded before it waits: a restart finds the question even if it never got a slot.
        run_id = (await keeper.value("recording a question", lambda: self.db.runs.start(
            mention.channel, mention.thread, mention.message_id, question, config_json,
            status="queued", owner=self.db.owner, author=mention.author, author_name=mention.author_name,
            config_label=config_label(config)))).value
        state = _RunState(run_id, keeper, (*notes, *([config_note] if config_note else [])))
        if turn is not None and run_id is not None:
            await keeper.value("recording the experiment's arm", partial(
                self.db.experiments.record, run_id, turn.experiment_id, turn.arm))

        async def tell_position(ahead: int) -> None:
            await surface.show_progress(Progress(layer=0, total_layers=config.layers, queued_ahead=ahead))
            await self._remember_status(state, surface)

        # Admission counts the whole prompt, the thread's history included, and what calls will reserve.
        thread, _ = await self._history(mention, block=_history_block(config))
        demand = answer_demand(config, question, thread, self.engine.reservations.reserve)
        try:
            async with self._gate.slot(mention.channel, tell_position, _needs(demand)) as state.ticket:
                if self._closing:
                    await self._settle(state, "interrupted", INTERRUPTED)
                    if not state.taken_over:  # else the process that took it over answers it
                        await surface.fail(INTERRUPTED, None)
                    return None
                if await self._over_budget(mention, surface, exclude_run=run_id):  # answers queued meanwhile count
                    await self._discard(state)
                    return None
                if run_id is not None and (started := await keeper.value("starting a run", lambda: (
                        self.db.runs.set_running(run_id, config_json, owner=self.db.owner)))).ran and not started.value:
                    state.settled = state.taken_over = True  # stalled past its lease: another process has it
                    log.warning("run %s was taken over by another process before it started; not answering "
                                "it here", run_id)
                    return None
                return await self._run(mention, question, config, surface, state)
        except QueueFull:
            await self._settle(state, "failed", BUSY)
            await surface.fail(BUSY, None)
            return None
        except asyncio.CancelledError:  # cancelled while waiting in the queue (shutdown)
            if not state.settled:
                await asyncio.shield(self._settle(state, "interrupted", INTERRUPTED))
                if not state.taken_over:  # else the process that took it over answers it
                    with contextlib.suppress(Exception):
                        await asyncio.shield(surface.fail(INTERRUPTED, None))
            raise

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

    def refusal(self, question: str) -> str | None:
        """Why this question will not be answered (empty, too long, shutting down), or None."""
        if self._closing:
            return "The bot is restarting — please ask again in a minute."
        if not question:
            return ("Ask me something after the mention, e.g. “@moa is 9.11 or 9.9 larger?”. "
                    "`/moa help` lists commands.")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            return (f"That question is {len(question):,} characters; the limit is {limit:,}. "
                    "Please shorten it or split it into parts.")
        return None

    async def _config_for(self, channel: ChannelKey) -> tuple[MoaConfig, str | None]:
        """The channel's config — or, when storage cannot be read, the default and a note saying so."""
        stored, failure = await read("loading a config", lambda: self.db.configs.effective(channel), None)
        if failure is not None:
            return self.settings.default_config, failure_note(failure, "this answer used the default setup, not "
                                                                       "this channel's.")
        return self._config_from(stored), None

    async def _remember_status(self, state: _RunState, surface: ReplySurface) -> None:
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

    async def _run(self, mention: Mention, question: str, config: MoaConfig, surface: ReplySurface,
                   state: _RunState) -> int | None:
        surface = _OwnedSurface(surface, state)  # quiet once another process has taken the run over
        if state.run_id is not None:
            self._live[state.run_id] = state
        progress = ProgressTracker(config, self._redact)
        # The history loads while the status goes out: the first model call waits for neither in turn.
        loading = asyncio.create_task(self._history(mention, block=_history_block(config)), name="moa-history")
        try:
            try:
                await surface.show_progress(progress.snapshot())  # at once: something visible within a second
            except Exception:  # the next update may work; the answer must not depend on it
                log.warning("could not show the first status", exc_info=True)
            shown_at = time.monotonic()
            await self._remember_status(state, surface)
            history, history_note = await loading
        finally:
            loading.cancel()
        updater = CoalescingUpdater(surface.min_update_interval, last_update=shown_at)

        outputs: list[ProposerFinished] = []  # kept so an interrupted or crashed run still shows its layers
        answer = ""
        report = AnswerReport(mention.channel)  # the answer's log line and metrics, at its end
        try:
            reading = await read_attachments(mention.attachments, self.settings.file_limits)
            if not history and mention.earlier is not None:  # tagged into a thread it has not answered in
                context = await read_thread(mention.earlier, self.settings.history_token_budget,
                                            self.settings.file_limits)
                history, history_note = list(context.turns), context.note or history_note
                reading = reading.with_images(context.images)
            async with contextlib.aclosing(self.engine.run(reading.question(question), config, history, state.ticket,
                                                          reading.shown)) as events:
                async for event in events:
                    if state.taken_over:  # another process answers it now: stop spending on it here
                        log.warning("run %s was taken over by another process while this one stalled; "
                                    "stopping it here", state.run_id)
                        break
                    report.see(event)
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
                            updater.push(partial(surface.stream_answer, _clean_text(answer)))
                        case RunFinished():
                            await updater.settle()
                            notes = (*event.warnings, *([history_note] if history_note else []), *state.notes,
                                     *reading.notes(models_of(config)))
                            await self._finish(mention, question, state, event, notes, surface)
                        case RunFailed():
                            await updater.settle()
                            await self._fail(mention, question, state, event, surface)
        except asyncio.CancelledError:
            await updater.settle()
            await asyncio.shield(self._interrupt(mention, question, state, outputs, surface))
            raise
        except Exception as err:  # never leave a mention unanswered
            log.exception("run %s crashed", state.run_id)
            await updater.settle()
            await self._settle(state, "failed", repr(err), outputs)
            if not state.taken_over:
                await self._save_turns(mention, state, question)
                await surface.fail(self._redact(render_failure(err)), state.run_id if state.saved else None)
        finally:
            report.end(sys.exc_info()[1])
            if state.run_id is not None:
                self._live.pop(state.run_id, None)
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

    async def _finish(self, mention: Mention, question: str, state: _RunState, done: RunFinished,
                      notes: tuple[str, ...], surface: ReplySurface) -> None:
        answer = _clean_text(done.answer)
        await self._settle(state, "done", None, _flat(done.layers), answer=answer, done=done)
        if state.taken_over:
            return
        await self._save_turns(mention, state, question, answer)
        warning = state.keeper.warning()
        shown_run = state.run_id if state.saved else None
        message_ids = await surface.finish(FinalAnswer(answer, shown_run,
                                                       (*notes, *([warning] if warning else [])),
                                                       verdict=done.verdict))
        if message_ids and shown_run is not None:
            await state.keeper.write("indexing the answer's messages",
                                     lambda: self.db.runs.set_answer_messages(shown_run, message_ids))

    async def _fail(self, mention: Mention, question: str, state: _RunState, failed: RunFailed,
                    surface: ReplySurface) -> None:
        error = self._redact(failed.error)
        await self._settle(state, "failed", error, _flat(failed.layers), usage=failed)
        if state.taken_over:
            return
        await self._save_turns(mention, state, question)
        await surface.fail(error, state.run_id if state.saved and failed.layers else None)

    async def _interrupt(self, mention: Mention, question: str, state: _RunState,
                         outputs: list[ProposerFinished], surface: ReplySurface) -> None:
        await self._settle(state, "interrupted", INTERRUPTED, outputs)
        if state.taken_over:
            return
        await self._save_turns(mention, state, question)
        with contextlib.suppress(Exception):
            await surface.fail(INTERRUPTED, state.run_id if state.saved and outputs else None)

    async def _settle(self, state: _RunState, status: RunStatus, error: str | None,
                      outputs: list[ProposerFinished] | None = None, *, answer: str | None = None,
                      done: RunFinished | None = None, usage: RunFailed | None = None) -> None:
        """Store the run's outcome; when storage fails, keep trying in the background so a restart does
        not mistake a delivered answer for a cut-off one.

        Storing is also the check that the run is still this process's: one that stalled past its lease
        may have been taken over meanwhile (`state.taken_over`), and then the other process answers it.
        """
        state.settled = True
        run_id = state.run_id
        if run_id is None:
            return
        spent = done or usage
        # What any layer view will show: text storage accepts, errors without secrets.
        kept = [replace(out, text=_clean_text(out.text), error=self._redact(out.error) if out.error else None)
                for out in outputs or []]
        stored = await state.keeper.value("saving the run", lambda: self.db.runs.finish(
            run_id, status=status, answer=answer, error=error, proposers=_records(kept),
            total_s=done.timings.total_s if done else None,
            prompt_tokens=spent.usage.prompt_tokens if spent else None,
            completion_tokens=spent.usage.completion_tokens if spent else None,
            # a failed run's calls cost money too: usage and budgets count them
            cost_usd=done.cost_usd if done else layer_cost(_flat(usage.layers)) if usage else None,
            owner=self.db.owner, cached_tokens=spent.usage.cached_tokens if spent else None,
            usage_estimated=bool(spent and spent.usage.estimated)))
        state.saved = stored.ran and stored.value is True
        if stored.ran and not stored.value:
            state.taken_over = True
            log.warning("run %s was taken over by another process while this one stalled; its %s outcome "
                        "is not delivered here", run_id, status)
        elif not stored.ran:
            self._unsettled[run_id] = (status, error)

    async def _discard(self, state: _RunState) -> None:
        """Drop the row of a question refused before it ran (over budget): it was never an answer."""
        state.settled = True
        run_id = state.run_id
        if run_id is not None:
            await state.keeper.write("dropping a refused question", lambda: self.db.runs.discard(run_id))

    async def _save_turns(self, mention: Mention, state: _RunState, question: str, answer: str | None = None) -> None:
        """The exchange joins the thread's history (the question alone when there was no answer)."""
        author = mention.author_name or mention.author
        if await state.keeper.write("saving the question", lambda: self.db.turns.add(
                mention.channel, mention.thread, "user", author, question)) and answer is not None:
            await state.keeper.write("saving the answer", lambda: self.db.turns.add(
                mention.channel, mention.thread, "assistant", "moa", answer))

    def _redact(self, text: str) -> str:
        return self._redactor.redact(text)

    # ---- everything else adapters ask ----------------------------------------------------------------

    async def effective_config(self, channel: ChannelKey) -> MoaConfig:
        """The channel's config, else its workspace default, else the deployment's (MOA_CONFIG or built-in)."""
        return self._config_from(await self.db.configs.effective(channel))

    def _config_from(self, stored: StoredConfig | None) -> MoaConfig:
        """A stored config parsed within the limits; none stored is the deployment's (MOA_CONFIG or built-in)."""
        if stored is None:
            return self.settings.default_config
        return parse_config(stored.config_json, limits=self.settings.limits)

    async def continues_thread(self, channel: ChannelKey, thread: str) -> bool:
        """True when the bot has answered in this thread before (follow-ups need no mention); False while
        storage cannot say (a mention still works then)."""
        found, _ = await read("looking up a thread", lambda: self.db.turns.has_thread(channel, thread), False)
        return found

    async def claim_event(self, key: str) -> bool:
        """True the first time a platform event key is seen; False for retries and redeliveries.

        While storage cannot record keys, this process remembers them itself: the mention is still answered.
        """
        if key in self._claimed:
            return False
        claimed, failure = await read("claiming an event", lambda: self.db.event_keys.claim(key), None)
        if failure is None:
            return bool(claimed)
        self._claimed[key] = None
        while len(self._claimed) > MEMORY_CLAIMS:
            self._claimed.popitem(last=False)
        return True

    async def run_command(self, ctx: CommandContext, text: str) -> CommandReply:
        """Parse, check, apply and answer one `/moa` command."""
        deps = CommandDeps(configs=self.db.configs, history=self.db, models=self.providers,
                           limits=self.settings.limits, default=self.settings.default_config,
                           default_label="this bot's default (MOA_CONFIG)" if self.settings.default_config_path
                           else "the built-in default", usage=self.db.usage, budgets=self.db.budgets,
                           budget_defaults=(self.settings.budget_member_answers,
                                            self.settings.budget_channel_tokens),
                           pacer=self.providers.pacer, experiments=self.db.experiments)
        try:
            return await execute(ctx, _clean_text(text), deps)
        except Exception as err:
            if not is_storage_failure(err):
                raise
            log.warning("a /moa command failed on storage: %r", err)
            return CommandReply(f"I can't use this bot's storage right now ({describe(err)}), so nothing "
                                "changed. Please try again in a few minutes.")

    async def reveal_layers(self, channel: ChannelKey, *, run_id: int | None = None,
                            message_id: str | None = None) -> RunRecord | None:
        """The run behind an answer — only if it belongs to `channel`. StorageError (a sentence) when
        storage cannot be read."""
        try:
            if run_id is not None:
                return await self.db.runs.get(run_id, channel)
            if message_id is not None:
                return await self.db.runs.find_by_message(channel, message_id)
        except Exception as err:
            if not is_storage_failure(err):
                raise
            raise StorageError(f"I can't read this bot's storage right now ({describe(err)}), so I can't show "
                               "those layers. Please try again in a few minutes.") from None
        return None

    async def vote(self, channel: ChannelKey, run_id: int, member: str, up: bool) -> str:
        """Record a member's 👍/👎 on an answer of `channel` (a second press replaces it); the private reply."""
        return await record_vote(self.db, channel, run_id, member, up)

    async def last_run(self, channel: ChannelKey, thread: str | None = None) -> RunRecord | None:
        """The newest run in a channel (or one of its threads)."""
        return await self.db.runs.latest(channel, thread)

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
                answers.append(self.handle_mention(mention, surface, notes=(RESUMED_NOTE,)))
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

    async def live_models(self) -> list[str]:
        return await self.providers.live_models()

    # ---- lifecycle ----------------------------------------------------------------------------------

    @property
    def busy(self) -> int:
        return len(self._answers)

    @property
    def queued(self) -> int:
        """Questions waiting for a free slot."""
        return self._gate.waiting

    async def drain(self, grace_s: float | None = None) -> None:
        """Stop taking work; let running answers finish within the grace period, interrupt the rest."""
        self._closing = True
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        pending = set(self._answers)
        if pending:
            log.info("waiting up to %.0f s for %d answers to finish", grace, len(pending))
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=5)

    async def aclose(self) -> None:
        """Drain, then close the providers and the database."""
        await self.drain()
        for task in (self._pruner, self._keepalive):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._settle_later()
        await self.providers.aclose()
        await self.db.close()

    async def _prune_forever(self) -> None:
        while True:
            try:
                removed = await self.db.prune(self.settings.history_days)
                if removed:
                    log.info("pruned %d rows older than %d days", removed, self.settings.history_days)
            except Exception:
                log.warning("pruning failed", exc_info=True)
            await asyncio.sleep(PRUNE_EVERY_S)

    async def _keep_alive(self) -> None:
        """Heartbeat this process's owner row (replicas judge liveness by it) and store late outcomes."""
        while True:
            await asyncio.sleep(self.settings.lease_heartbeat_s)
            try:
                await self.db.owners.heartbeat(self.db.owner)
            except Exception as err:  # storage may be down; answers go on regardless
                log.debug("heartbeat failed: %r", err)
            await self._settle_later()
            # Replicas share the database: one of them may have died. Or a claim at start failed.
            if self.db.dialect == "postgresql" or self._claims_pending:
                await self._notice_taken_over()
                await self._take_over()

    async def _notice_taken_over(self) -> None:
        """Mark the runs being answered here that another process claimed (this one stalled past its
        lease): they stop at their next event and show nothing more; the claimer answers them."""
        if not self._live:
            return
        try:
            lost = await self.db.runs.taken_from(self.db.owner, list(self._live))
        except Exception as err:
            log.debug("checking for taken-over runs failed: %r", err)
            return
        for run_id in lost:
            if (state := self._live.get(run_id)) is not None:
                state.taken_over = True

    async def _take_over(self) -> None:
        """Claim the runs of replicas whose lease expired, and answer or tell them from here (in the
        background: the heartbeat must go on meanwhile, or this process would look gone too)."""
        if not self._rebuilders or self._closing:
            return
        before = len(self._unfinished)
        await self.claim_cut_off(list(self._rebuilders))
        if len(self._unfinished) == before:
            return
        for platform, rebuild in self._rebuilders.items():
            task = asyncio.create_task(self.recover(platform, rebuild))
            self._takeovers.add(task)
            task.add_done_callback(self._takeovers.discard)

    async def _settle_later(self) -> None:
        """Store the outcomes storage refused earlier, so a restart never answers them twice."""
        for run_id, (status, error) in list(self._unsettled.items()):
            try:
                await self.db.runs.set_status(run_id, status, error, owner=self.db.owner)
            except Exception as err:
                log.debug("run %s outcome still not stored: %r", run_id, err)
                return
            self._unsettled.pop(run_id, None)


@dataclass
class _RunState:
    """One answer's storage state: its run row (None when it could not be stored) and what is kept."""

    run_id: int | None
    keeper: StorageKeeper
    notes: tuple[str, ...] = ()
    handle: str | None = None  # the status message's handle as last stored
    saved: bool = False  # the outcome (and layers) reached storage
    taken_over: bool = False  # another process claimed the run (this one stalled past its lease)
    settled: bool = False  # an outcome was decided (stored or not)
    ticket: int | None = None  # its place in line for the models' budgets, claimed when admitted


def _needs(demand: dict[str, ModelDemand]) -> dict[str, Need]:
    """What an answer asks of each model: what admission weighs against the models' budgets."""
    return {model: Need(need.tokens, need.calls) for model, need in demand.items()}


class _OwnedSurface:
    """A run's surface that goes quiet once the run is taken over: the claiming process, which answers it
    again, owns the thread's status from then on."""

    def __init__(self, inner: ReplySurface, state: _RunState) -> None:
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


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _clean_text(text: str) -> str:
    """Text any storage, JSON and platform accepts: lone surrogates (invalid UTF-8) become U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _history_block(config: MoaConfig) -> int:
    """Turns leave the history in whole blocks with a layout that caches the thread, one by one with classic."""
    return 1 if config.prompt_layout == "classic" else HISTORY_BLOCK_TURNS


def _clean(mention: Mention) -> Mention:
    return replace(mention, text=_clean_text(mention.text), author_name=_clean_text(mention.author_name))


def _flat(layers: tuple[LayerResult, ...]) -> list[ProposerFinished]:
    return [out for layer in layers for out in layer.outputs]


def _records(outputs: list[ProposerFinished]) -> list[ProposerRecord]:
    return [
        ProposerRecord(layer=out.layer, agent=out.agent, model=out.model, text=out.text,
                       latency_s=out.latency_s,
                       prompt_tokens=out.usage.prompt_tokens if out.usage else None,
                       completion_tokens=out.usage.completion_tokens if out.usage else None,
                       error=out.error, cached_tokens=out.usage.cached_tokens if out.usage else None,
                       cut=out.cut, usage_estimated=bool(out.usage and out.usage.estimated))
        for out in outputs
    ]

