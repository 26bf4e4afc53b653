"""The platform-neutral conversation service: what Slack, Discord and the console call, and its lifecycle.

An adapter turns a platform event into a `Mention` and a `ReplySurface`; the service hands it to the
`Answerer` (bot/conversation/answering.py), which loads the channel's config and the thread's history,
waits its turn in a fair queue, drives the engine and shows the answer; `OutcomeRecorder` (outcome.py)
stores how each answer ended; `Recovery` (recovery.py) answers what a gone process left. Everything else
adapters ask — event claims, `/moa` commands, layer views, votes — is answered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict

from bot.commands import CommandDeps, execute
from bot.commands.context import CommandContext, CommandReply  # re-exported for the tests that import them here
from bot.commands.grammar import Command
from bot.conversation.answering import Answerer
from bot.conversation.feedback import record_vote
from bot.conversation.gate import FairGate
from bot.conversation.keeper import read
from bot.conversation.mention import Mention, RebuildSurface, clean_command, clean_mention
from bot.conversation.outcome import INTERRUPTED, OutcomeRecorder, RunsHere
from bot.conversation.recovery import RESUMED_NOTE, Recovery
from bot.settings import Settings
from bot.surface import ReplySurface
from bot.text.redact import Redactor
from moa.calls.providers import ProviderRegistry
from moa.run.engine import MoaEngine
from storage.db import Database
from storage.errors import StorageError, describe, is_storage_failure
from storage.models import ChannelKey, RunRecord, UnfinishedRun

__all__ = ["INTERRUPTED", "RESUMED_NOTE", "CommandContext", "CommandReply", "ConversationService", "Mention"]

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 6 * 3600
MEMORY_CLAIMS = 10_000  # event keys remembered in memory while storage cannot record them


class ConversationService:
    """What the adapters call: answers, commands, layer views, votes, recovery; and start and stop."""

    def __init__(self, settings: Settings, db: Database, providers: ProviderRegistry,
                 engine: MoaEngine) -> None:
        self.settings = settings
        self.db = db
        self.providers = providers
        self.engine = engine
        # Beyond one answer, how many run at once follows the models' budget (the pacer wakes the gate).
        self._gate = FairGate(settings.max_concurrent_runs, settings.max_concurrent_per_channel,
                              settings.max_queue, admission=providers.pacer)
        self._here = RunsHere()
        self._recorder = OutcomeRecorder(db, Redactor.from_env(settings.env), self._here)
        self._answerer = Answerer(settings, db, engine, self._gate, self._here, self._recorder)
        self._recovery = Recovery(db, self._here, self.handle_mention)
        self._answers: set[asyncio.Task[object]] = set()
        self._pruner: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._claimed: OrderedDict[str, None] = OrderedDict()  # event keys seen while storage failed

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
            return await self._answerer.answer(clean_mention(mention), surface, notes)
        finally:
            if task is not None:
                self._answers.discard(task)

    def refusal(self, question: str) -> str | None:
        """Why this question will not be answered (empty, too long, shutting down), or None."""
        return self._answerer.refusal(question)

    # ---- everything else adapters ask ----------------------------------------------------------------

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

    async def run_command(self, ctx: CommandContext, typed: str | Command) -> CommandReply:
        """Check, apply and answer one `/moa` command: text to parse (Slack, the console), or a command
        built from typed options (Discord's subcommands)."""
        deps = CommandDeps(configs=self.db.configs, history=self.db, models=self.providers,
                           limits=self.settings.limits, default=self.settings.default_config,
                           default_label="this bot's default (MOA_CONFIG)" if self.settings.default_config_path
                           else "the built-in default", usage=self.db.usage, budgets=self.db.budgets,
                           budget_defaults=(self.settings.budget_member_answers,
                                            self.settings.budget_channel_tokens),
                           pacer=self.providers.pacer, experiments=self.db.experiments)
        try:
            return await execute(ctx, clean_command(typed), deps)
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

    async def live_models(self) -> list[str]:
        """The model ids the providers serve now."""
        return await self.providers.live_models()

    # ---- what a gone process left (bot/conversation/recovery.py) ----------------------------------------

    async def claim_cut_off(self, platforms: list[str]) -> None:
        """Claim the runs on `platforms` whose owner is gone, to answer or tell them from here."""
        await self._recovery.claim_cut_off(platforms)

    def take_unfinished(self, platform: str) -> list[UnfinishedRun]:
        """Claimed runs on `platform` not yet answered or told; handed out once."""
        return self._recovery.take_unfinished(platform)

    async def recover(self, platform: str, rebuild: RebuildSurface, now: float | None = None) -> None:
        """Answer again (when recent) or tell (when old) the questions a dead process left on `platform`."""
        await self._recovery.recover(platform, rebuild, now)

    # ---- lifecycle ----------------------------------------------------------------------------------

    @property
    def busy(self) -> int:
        """Answers running or waiting in this process."""
        return len(self._answers)

    @property
    def queued(self) -> int:
        """Questions waiting for a free slot."""
        return self._gate.waiting

    async def drain(self, grace_s: float | None = None) -> None:
        """Stop taking work; let running answers finish within the grace period, interrupt the rest."""
        self._here.closing = True
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
        await self._recorder.settle_later()
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
            await self._recorder.settle_later()
            # Replicas share the database: one of them may have died. Or a claim at start failed.
            if self.db.dialect == "postgresql" or self._recovery.claims_pending:
                await self._recovery.notice_taken_over()
                await self._recovery.take_over()
