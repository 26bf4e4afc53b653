"""The platform-neutral conversation service: everything Slack, Discord and the console share.

An adapter turns a platform event into a `Mention` and a `ReplySurface`; the service loads the
channel's config and the thread's history, waits its turn in a fair queue, drives the engine,
records the run, and shows status, progress and the answer through the surface.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

from bot.answer_report import AnswerReport
from bot.budgets import over_budget
from bot.feedback import record_vote
from bot.gate import FairGate, QueueFull
from bot.render import render_failure
from bot.settings import Settings
from bot.surface import AgentProgress, FinalAnswer, Progress, ReplySurface
from bot.throttle import CoalescingUpdater
from moa.config import MoaConfig, parse_config
from moa.engine import MoaEngine
from moa.errors import ConfigError
from moa.events import (
    AggregatorDelta,
    AggregatorStarted,
    LayerResult,
    LayerStarted,
    ProposerFinished,
    RunFailed,
    RunFinished,
    Turn,
)
from moa.labels import config_label
from moa.providers import ProviderRegistry
from storage.db import Database
from storage.models import ChannelKey, ProposerRecord, RunRecord, UnfinishedRun

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 6 * 3600
INTERRUPTED = "The bot restarted before this answer was finished — please ask again."
# Posted after a crash (no graceful shutdown told them) to each thread whose answer never came.
RESTART_NOTICE = "⚠️ I restarted before I could finish answering this — please ask again."


@dataclass(frozen=True)
class Mention:
    """A message that asks the bot something."""

    channel: ChannelKey  # the channel whose config applies (a thread's *parent* channel)
    thread: str  # where the answer goes: Slack thread_ts, Discord thread id, or the DM channel id
    message_id: str  # the asking message (Slack ts, Discord message id)
    author: str  # platform user id
    text: str  # the question, the bot's own mention removed
    author_name: str = ""  # how the models see the author in later turns (falls back to the id)


@dataclass(frozen=True)
class CommandContext:
    """Who runs a `/moa` command, and where."""

    channel: ChannelKey
    user: str
    is_admin: Callable[[], Awaitable[bool]]  # asked lazily, only for commands that change things


@dataclass(frozen=True)
class CommandReply:
    text: str
    changed: bool = False  # whether stored state changed


class ConversationService:
    """Loads config and history, drives the engine, records runs, renders to a ReplySurface."""

    def __init__(self, settings: Settings, db: Database, providers: ProviderRegistry,
                 engine: MoaEngine) -> None:
        self.settings = settings
        self.db = db
        self.providers = providers
        self.engine = engine
        self._gate = FairGate(settings.max_concurrent_runs, settings.max_concurrent_per_channel,
                              settings.max_queue)
        self._answers: set[asyncio.Task[object]] = set()
        self._closing = False
        self._pruner: asyncio.Task[None] | None = None
        self._unfinished = list(db.interrupted_at_open)

    @classmethod
    async def create(cls, settings: Settings) -> ConversationService:
        """Open the database and the model providers named by `settings`."""
        db = await Database.open(settings.database)
        if db.interrupted_at_open:
            log.info("marked %d unfinished runs from the last process as interrupted",
                     len(db.interrupted_at_open))
        providers = ProviderRegistry.from_env(settings.env, call_timeout_s=settings.call_timeout_s,
                                              deadline_s=settings.run_deadline_s)
        engine = MoaEngine(providers, call_timeout_s=settings.call_timeout_s,
                           deadline_s=settings.run_deadline_s)
        service = cls(settings, db, providers, engine)
        service._pruner = asyncio.create_task(service._prune_forever())
        return service

    # ---- answering ---------------------------------------------------------------------------------

    async def handle_mention(self, mention: Mention, surface: ReplySurface) -> int | None:
        """Answer one mention through `surface`, exactly once; returns the run id when a run started."""
        task = asyncio.current_task()
        if task is not None:
            self._answers.add(task)
        try:
            return await self._answer(mention, surface)
        finally:
            if task is not None:
                self._answers.discard(task)

    async def _answer(self, mention: Mention, surface: ReplySurface) -> int | None:
        question = mention.text.strip()
        refusal = self.refusal(question)
        if refusal is not None:
            await surface.fail(refusal, None)
            return None
        try:
            config = await self.effective_config(mention.channel)
        except ConfigError as err:
            await surface.fail(f"This channel's MoA config no longer fits the limits: {err} "
                               "An admin can fix it with `/moa reset`.", None)
            return None

        if await self._over_budget(mention, surface):
            return None

        async def tell_position(ahead: int) -> None:
            await surface.show_progress(Progress(layer=0, total_layers=config.cycles, queued_ahead=ahead))

        try:
            async with self._gate.slot(mention.channel, tell_position):
                if self._closing:
                    await surface.fail(INTERRUPTED, None)
                    return None
                if await self._over_budget(mention, surface):  # again: answers queued meanwhile count now
                    return None
                return await self._run(mention, question, config, surface)
        except QueueFull:
            await surface.fail("I'm answering too many questions right now — please ask again in a "
                               "minute.", None)
            return None

    async def _over_budget(self, mention: Mention, surface: ReplySurface) -> bool:
        """Budgets bind admins too; a mention over one is told so (True) and costs no model call."""
        over = await over_budget(self.db, mention.channel, mention.author, self.settings.budget_member_answers,
                                 self.settings.budget_channel_tokens)
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

    async def _run(self, mention: Mention, question: str, config: MoaConfig,
                   surface: ReplySurface) -> int:
        progress = _ProgressTracker(config)
        updater = CoalescingUpdater(surface.min_update_interval)
        updater.push(partial(surface.show_progress, progress.snapshot()))

        history, history_note = await self._history(mention)
        run_id = await self.db.runs.start(mention.channel, mention.thread, mention.message_id, question,
                                          config.export_json(), author=mention.author,
                                          config_label=config_label(config))
        author = mention.author_name or mention.author
        await self.db.turns.add(mention.channel, mention.thread, "user", author, question)
        answer = ""
        outputs: list[ProposerFinished] = []  # kept so an interrupted or crashed run still shows its layers
        report = AnswerReport(mention.channel)  # the answer's log line and metrics, at its end
        try:
            async with contextlib.aclosing(self.engine.run(question, config, history)) as events:
                async for event in events:
                    report.see(event)
                    match event:
                        case LayerStarted() | ProposerFinished() | AggregatorStarted():
                            if isinstance(event, ProposerFinished):
                                outputs.append(event)
                            progress.apply(event)
                            updater.push(partial(surface.show_progress, progress.snapshot()))
                        case AggregatorDelta(text=piece):
                            answer += piece
                            updater.push(partial(surface.stream_answer, answer))
                        case RunFinished():
                            await updater.settle()
                            if history_note:
                                event = replace(event, warnings=(*event.warnings, history_note))
                            await self._finish(mention, run_id, event, surface)
                        case RunFailed():
                            await updater.settle()
                            await self._fail(run_id, event, surface)
        except asyncio.CancelledError:
            await updater.settle()
            await asyncio.shield(self._interrupt(run_id, outputs, surface))
            raise
        except Exception as err:  # never leave a mention unanswered
            log.exception("run %s crashed", run_id)
            await updater.settle()
            await self.db.runs.finish(run_id, status="failed", answer=None, error=repr(err),
                                      proposers=_records(outputs), total_s=None, prompt_tokens=None,
                                      completion_tokens=None, cost_usd=None)
            await surface.fail(render_failure(err), run_id)
        finally:
            report.end(sys.exc_info()[1])
        return run_id

    async def _history(self, mention: Mention) -> tuple[list[Turn], str | None]:
        """The thread's earlier turns within the budget, and a note when older ones were left out."""
        stored = await self.db.turns.history(mention.channel, mention.thread,
                                             self.settings.history_token_budget)
        total = await self.db.turns.count(mention.channel, mention.thread)
        note = None
        if total > len(stored):
            note = (f"Only the last {len(stored)} of {total} earlier messages in this thread fit the "
                    f"history budget ({self.settings.history_token_budget:,} tokens).")
        return [Turn(role=t.role, text=t.text, author=t.author) for t in stored], note

    async def _finish(self, mention: Mention, run_id: int, done: RunFinished, surface: ReplySurface) -> None:
        await self.db.runs.finish(
            run_id, status="done", answer=done.answer, error=None, proposers=_records(_flat(done.layers)),
            total_s=done.timings.total_s, prompt_tokens=done.usage.prompt_tokens,
            completion_tokens=done.usage.completion_tokens, cost_usd=done.cost_usd)
        await self.db.turns.add(mention.channel, mention.thread, "assistant", "moa", done.answer)
        message_ids = await surface.finish(FinalAnswer(done.answer, run_id, done.warnings))
        if message_ids:
            await self.db.runs.set_answer_messages(run_id, message_ids)

    async def _fail(self, run_id: int, failed: RunFailed, surface: ReplySurface) -> None:
        await self.db.runs.finish(
            run_id, status="failed", answer=None, error=failed.error, proposers=_records(_flat(failed.layers)),
            total_s=None, prompt_tokens=failed.usage.prompt_tokens,
            completion_tokens=failed.usage.completion_tokens, cost_usd=None)
        await surface.fail(failed.error, run_id if failed.layers else None)

    async def _interrupt(self, run_id: int, outputs: list[ProposerFinished], surface: ReplySurface) -> None:
        await self.db.runs.finish(run_id, status="interrupted", answer=None, error=INTERRUPTED,
                                  proposers=_records(outputs), total_s=None, prompt_tokens=None,
                                  completion_tokens=None, cost_usd=None)
        with contextlib.suppress(Exception):
            await surface.fail(INTERRUPTED, run_id if outputs else None)

    # ---- everything else adapters ask ----------------------------------------------------------------

    async def effective_config(self, channel: ChannelKey) -> MoaConfig:
        """The channel's config, else its workspace default, else the deployment's (MOA_CONFIG or built-in)."""
        stored = await self.db.configs.effective(channel)
        if stored is None:
            return self.settings.default_config
        return parse_config(stored.config_json, limits=self.settings.limits)

    async def continues_thread(self, channel: ChannelKey, thread: str) -> bool:
        """True when the bot has answered in this thread before (follow-ups need no mention)."""
        return await self.db.turns.has_thread(channel, thread)

    async def claim_event(self, key: str) -> bool:
        """True the first time a platform event key is seen; False for retries and redeliveries."""
        return await self.db.event_keys.claim(key)

    async def run_command(self, ctx: CommandContext, text: str) -> CommandReply:
        """Parse, check, apply and answer one `/moa` command."""
        from bot.commands import CommandDeps, execute

        deps = CommandDeps(configs=self.db.configs, history=self.db, models=self.providers,
                           limits=self.settings.limits, default=self.settings.default_config,
                           default_label="this bot's default (MOA_CONFIG)" if self.settings.default_config_path
                           else "the built-in default", usage=self.db.usage, budgets=self.db.budgets,
                           budget_defaults=(self.settings.budget_member_answers,
                                            self.settings.budget_channel_tokens))
        return await execute(ctx, text, deps)

    async def reveal_layers(self, channel: ChannelKey, *, run_id: int | None = None,
                            message_id: str | None = None) -> RunRecord | None:
        """The run behind an answer — only if it belongs to `channel`."""
        if run_id is not None:
            return await self.db.runs.get(run_id, channel)
        if message_id is not None:
            return await self.db.runs.find_by_message(channel, message_id)
        return None

    async def vote(self, channel: ChannelKey, run_id: int, member: str, up: bool) -> str:
        """Record a member's 👍/👎 on an answer of `channel` (a second press replaces it); the private reply."""
        return await record_vote(self.db, channel, run_id, member, up)

    async def last_run(self, channel: ChannelKey, thread: str | None = None) -> RunRecord | None:
        """The newest run in a channel (or one of its threads)."""
        return await self.db.runs.latest(channel, thread)

    def take_unfinished(self, platform: str) -> list[UnfinishedRun]:
        """Runs on `platform` the last process left unanswered; handed out once, for RESTART_NOTICE."""
        taken = [run for run in self._unfinished if run.channel.platform == platform]
        self._unfinished = [run for run in self._unfinished if run.channel.platform != platform]
        return taken

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
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
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


class _ProgressTracker:
    """Folds engine events into the `Progress` a surface shows: states only, never answers."""

    def __init__(self, config: MoaConfig) -> None:
        self._total = config.cycles
        self._layer = 1
        self._aggregator = config.main_model
        self._agents = [AgentProgress(name, agent.model_name, "waiting") for name, agent in config.agents]

    def apply(self, event: LayerStarted | ProposerFinished | AggregatorStarted) -> None:
        match event:
            case LayerStarted(layer=layer, agents=names, models=models):
                self._layer = layer
                self._agents = [AgentProgress(n, m, "running") for n, m in zip(names, models, strict=False)]
            case ProposerFinished():
                self._agents = [
                    AgentProgress(a.name, a.model, "done" if event.ok else "failed", event.latency_s,
                                  event.error) if a.name == event.agent else a
                    for a in self._agents
                ]
            case AggregatorStarted(model=model):
                self._layer = self._total + 1
                self._aggregator = model

    def snapshot(self) -> Progress:
        return Progress(layer=self._layer, total_layers=self._total, agents=tuple(self._agents),
                        aggregator_model=self._aggregator)


def _flat(layers: tuple[LayerResult, ...]) -> list[ProposerFinished]:
    return [out for layer in layers for out in layer.outputs]


def _records(outputs: list[ProposerFinished]) -> list[ProposerRecord]:
    return [
        ProposerRecord(layer=out.layer, agent=out.agent, model=out.model, text=out.text,
                       latency_s=out.latency_s,
                       prompt_tokens=out.usage.prompt_tokens if out.usage else None,
                       completion_tokens=out.usage.completion_tokens if out.usage else None,
                       error=out.error)
        for out in outputs
    ]

