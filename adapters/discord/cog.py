"""What the bot listens to: mentions, follow-ups in its threads and 🔍 reactions (`/moa` is slash.py).

Listeners only translate: the service decides everything (config, history, queueing, permissions).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Coroutine
from typing import Any

import discord
from discord.ext import commands

from adapters.discord.files import discord_attachments
from adapters.discord.places import place_of
from adapters.discord.surface import NO_PINGS, DiscordSurface
from adapters.discord.thread import earlier_reader
from adapters.discord.views import layers_page
from bot.conversation.reading import FILES_ONLY
from bot.conversation.service import ConversationService, Mention
from bot.surface import ReplySurface
from storage.errors import StorageError
from storage.models import UnfinishedRun

log = logging.getLogger(__name__)

REVEAL_EMOJI = frozenset({"🔍", "🔎"})
THREAD_NAME_LIMIT = 100
ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def thread_name(question: str) -> str:
    """A thread title from the question: one line, 1–100 characters."""
    name = " ".join(question.split()) or "Question"
    return name if len(name) <= THREAD_NAME_LIMIT else name[: THREAD_NAME_LIMIT - 1].rstrip() + "…"


class MoaCog(commands.Cog):
    def __init__(self, bot: commands.Bot, service: ConversationService) -> None:
        # Both injected (as discord.py's examples pass the bot): the cog never imports the client module.
        self.bot = bot
        self.service = service
        self._tasks: set[asyncio.Task[None]] = set()

    async def cog_unload(self) -> None:
        for task in self._tasks:
            task.cancel()

    # ---- messages ----------------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.type not in ANSWERED_TYPES:
            return
        question = await self._question(message, me.id)
        if question is None:
            return
        # Discord may deliver a message again after a RESUME: answer each message once.
        if not await self.service.claim_event(f"discord:{message.id}"):
            return
        self._spawn(self._answer(message, question))

    async def _question(self, message: discord.Message, me: int) -> str | None:
        """The question this message asks the bot, or None when it isn't for us."""
        mention = re.compile(rf"<@!?{me}>")
        if isinstance(message.channel, discord.DMChannel) or any(u.id == me for u in message.mentions):
            return mention.sub("", message.content).strip()
        if isinstance(message.channel, discord.Thread) and message.content:
            # A follow-up in a thread the bot answered in (content needs the message-content intent).
            key, thread = place_of(message.channel)
            if await self.service.continues_thread(key, thread):
                return message.content.strip()
        return None

    async def _answer(self, message: discord.Message, question: str) -> None:
        files = discord_attachments(message.attachments)
        refusal = self.service.refusal(question or (FILES_ONLY if files else ""))
        if refusal is not None:  # say why right there, without starting a thread for it
            await message.reply(refusal, allowed_mentions=NO_PINGS, mention_author=False)
            return
        target: discord.abc.Messageable = message.channel
        if isinstance(message.channel, discord.TextChannel):
            try:
                target = await message.create_thread(name=thread_name(question), auto_archive_duration=1440)
            except discord.HTTPException:  # no Create Public Threads here: answer in the channel
                log.warning("could not start a thread in channel %s; answering there", message.channel.id)
        surface = DiscordSurface(target)
        await surface.typing()
        key, thread = place_of(target, message.guild.id if message.guild else None)
        await self.service.handle_mention(Mention(
            channel=key, thread=thread, message_id=str(message.id), author=str(message.author.id),
            text=question, author_name=message.author.display_name, attachments=files,
            earlier=earlier_reader(message, self.bot.user.id if self.bot.user else 0)), surface)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run off the gateway's event loop turn, keeping a reference until done."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("answering a Discord message failed", exc_info=task.exception())

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """After a crash, answer (or tell to ask again) each question the last process left, in place of
        its frozen status (once per process: the service hands them out once)."""
        self._spawn(self.service.recover("discord", self._rebuild))

    async def _rebuild(self, run: UnfinishedRun) -> ReplySurface | None:
        """The surface of a run a dead process left, its status message taken from the stored handle."""
        try:
            handle = json.loads(run.surface) if run.surface else {}
        except ValueError:
            handle = {}
        channel_id = int(handle.get("channel") or run.thread)
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return None
        status = None
        if handle.get("message") and isinstance(channel, discord.TextChannel | discord.Thread | discord.DMChannel):
            status = channel.get_partial_message(int(handle["message"]))
        return DiscordSurface(channel, status)

    @commands.Cog.listener()
    async def on_shard_ready(self, shard_id: int) -> None:
        """With shards, `on_ready` waits for every shard of the process; the notices go over REST, so the
        first shard ready is enough (`on_ready` then finds nothing left to tell)."""
        await self.on_ready()

    # ---- reactions ---------------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """🔍 / 🔎 on one of our answers posts that run's layers where the answer is (works on old answers)."""
        me = self.bot.user
        if me is None or payload.user_id == me.id or payload.emoji.is_custom_emoji() \
                or payload.emoji.name not in REVEAL_EMOJI:
            return
        channel = self.bot.get_channel(payload.channel_id)
        if channel is None:  # e.g. a DM after a restart: not cached yet
            try:
                channel = await self.bot.fetch_channel(payload.channel_id)
            except discord.HTTPException:
                return
        key, _ = place_of(channel, payload.guild_id)
        try:
            run = await self.service.reveal_layers(key, message_id=str(payload.message_id))
        except StorageError as err:  # storage is down: say so where the 🔍 was, as the button does
            await self._reply_to_reaction(channel, payload, str(err))
            return
        if run is None or not isinstance(channel, discord.abc.Messageable):
            return
        if not await self.service.claim_event(f"discord:reveal:{payload.message_id}:{payload.user_id}"):
            return
        content, view = layers_page(run, 0)
        await channel.send(content, view=view, allowed_mentions=NO_PINGS)

    async def _reply_to_reaction(self, channel: object, payload: discord.RawReactionActionEvent, text: str) -> None:
        """`text` as a reply to the reacted-to message. Not claimed: the member may well try again."""
        if isinstance(channel, discord.abc.Messageable):
            await channel.send(text, allowed_mentions=NO_PINGS, reference=discord.MessageReference(
                message_id=payload.message_id, channel_id=payload.channel_id, fail_if_not_exists=False))
