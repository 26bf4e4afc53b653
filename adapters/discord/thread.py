"""The messages before a Discord mention that the models should see: the thread's history (and the message
that started it), or the message a mention replies to — always from the mention's own channel or thread."""

from __future__ import annotations

import logging
import re

import discord

from adapters.discord.files import discord_attachments
from bot.conversation.thread_context import EarlierMessage, EarlierMessages, EarlierReader

log = logging.getLogger(__name__)

MAX_MESSAGES = 200  # the newest messages read before a mention (discord.py pages them 100 at a time)


def earlier_reader(message: discord.Message, me: int) -> EarlierReader | None:
    """What to read before answering `message`, or None when there is nothing before it to read."""
    channel = message.channel
    replied = message.reference
    if isinstance(channel, discord.Thread):
        async def read_thread() -> EarlierMessages:
            found = [m async for m in channel.history(limit=MAX_MESSAGES + 1, before=message)]  # newest first
            older_unread = len(found) > MAX_MESSAGES
            found = found[:MAX_MESSAGES]
            found.reverse()
            starter = await _starter(channel)  # what the thread is about, even when messages between are unread
            return EarlierMessages([_earlier(m, me) for m in ([starter] if starter else []) + found], older_unread)
        return read_thread
    if replied is not None and replied.message_id is not None and replied.channel_id == channel.id:
        async def read_replied() -> list[EarlierMessage]:
            resolved = replied.resolved
            target = resolved if isinstance(resolved, discord.Message) else \
                await channel.fetch_message(replied.message_id)  # type: ignore[arg-type]
            return [_earlier(target, me)] if target.channel.id == channel.id else []
        return read_replied
    return None


async def _starter(thread: discord.Thread) -> discord.Message | None:
    """The parent-channel message a thread was started from (it shares the thread's id), if any."""
    if thread.parent is None or not isinstance(thread.parent, discord.TextChannel):
        return None
    try:
        return await thread.parent.fetch_message(thread.id)
    except discord.HTTPException:  # a thread started on its own, or the message is gone
        return None


def _earlier(message: discord.Message, me: int) -> EarlierMessage:
    from_bot = message.author.id == me
    text = re.sub(rf"<@!?{me}>", "", message.content).strip()
    return EarlierMessage(author="moa" if from_bot else message.author.display_name, text=text,
                          attachments=discord_attachments(message.attachments), from_bot=from_bot)
