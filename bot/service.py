"""The platform-neutral conversation service (skeleton: the API adapters code against)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from storage.models import ChannelKey, RunRecord


@dataclass(frozen=True)
class Mention:
    """A message that asks the bot something."""

    channel: ChannelKey  # the channel whose config applies (a thread's *parent* channel)
    thread: str  # where the answer goes: Slack thread_ts, Discord thread id, or the DM channel id
    message_id: str  # the asking message (Slack ts, Discord message id)
    author: str  # platform user id
    text: str  # the question, the bot's own mention removed
    author_name: str = ""


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

    async def handle_mention(self, mention: object, surface: object) -> int | None:
        raise NotImplementedError

    async def continues_thread(self, channel: ChannelKey, thread: str) -> bool:
        """True when the bot has answered in this thread before (follow-ups need no mention)."""
        raise NotImplementedError

    async def claim_event(self, key: str) -> bool:
        """True the first time a platform event key is seen; False for retries and redeliveries."""
        raise NotImplementedError

    async def run_command(self, ctx: CommandContext, text: str) -> CommandReply:
        raise NotImplementedError

    async def reveal_layers(self, channel: ChannelKey, *, run_id: int | None = None,
                            message_id: str | None = None) -> RunRecord | None:
        raise NotImplementedError
