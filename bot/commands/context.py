"""What a `/moa` command receives and answers: the types adapters, the service and the commands share,
in a module of their own so the commands never import the service that runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from storage.models import ChannelKey


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
