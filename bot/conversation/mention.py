"""What the service is asked to answer: a `Mention`, and the text hygiene every mention gets first."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields, replace
from typing import Any, cast

from bot.commands.grammar import Command
from bot.conversation.attachments import Attachment
from bot.conversation.thread_context import EarlierReader
from bot.surface import ReplySurface
from storage.models import ChannelKey, UnfinishedRun

# How an adapter rebuilds the surface of a run a gone process left (None: nobody left to tell).
RebuildSurface = Callable[[UnfinishedRun], Awaitable[ReplySurface | None]]

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


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


def clean_text(text: str) -> str:
    """Text any storage, JSON and platform accepts: lone surrogates (invalid UTF-8) become U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def clean_command(typed: str | Command) -> str | Command:
    """A `/moa` command as text, or built from typed options, with every text in it made safe to store."""
    if isinstance(typed, str):
        return clean_text(typed)
    texts = {f.name: clean_text(value) for f in fields(typed) if isinstance(value := getattr(typed, f.name), str)}
    cleaned: Command = replace(cast(Any, typed), **texts)  # any of the command dataclasses
    return cleaned


def clean_mention(mention: Mention) -> Mention:
    """The mention with its text and author name made safe to store and send."""
    return replace(mention, text=clean_text(mention.text), author_name=clean_text(mention.author_name))
