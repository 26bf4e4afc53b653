"""Builds the discord.py bot: intents, no pings by default, the cog, the persistent buttons, command sync."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from adapters.discord.cog import MoaCog
from adapters.discord.shards import SHARDING_REQUIRED, IdentifyPacer, ShardingRequired, session_start_pacer
from adapters.discord.slash import MoaCommands
from adapters.discord.surface import NO_PINGS
from adapters.discord.views import FeedbackButton, LayersPageButton, ShowLayersButton
from bot.conversation.service import ConversationService
from bot.settings import Settings

log = logging.getLogger(__name__)


def intents_for(settings: Settings) -> discord.Intents:
    """Only what the bot uses. Message content is privileged: mentions and DMs carry it anyway;
    follow-ups without a mention in a bot thread need it (enable it in the Developer Portal too)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.guild_reactions = True
    intents.dm_reactions = True
    intents.message_content = settings.discord_message_content
    return intents


if TYPE_CHECKING:
    _Bot = commands.Bot  # what the mixin may use: the API both bot classes share
else:
    _Bot = object


class MoaBotMixin(_Bot):
    """Our bot on top of either discord.py bot class: one gateway connection, or several shards."""

    def __init__(self, settings: Settings, service: ConversationService, **options: Any) -> None:
        options.setdefault("chunk_guilds_at_startup", False)  # members aren't needed: skip the downloads
        super().__init__(command_prefix=commands.when_mentioned, help_command=None,
                         intents=intents_for(settings), allowed_mentions=NO_PINGS, **options)
        self.settings = settings
        self.service = service

    async def setup_hook(self) -> None:
        await self.add_cog(MoaCog(self, self.service))
        await self.add_cog(MoaCommands(self.service))
        self.add_dynamic_items(ShowLayersButton, LayersPageButton, FeedbackButton)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """To DISCORD_GUILD_ID at once, otherwise globally (Discord propagates those within the hour)."""
        try:
            if self.settings.discord_guild_id:
                guild = discord.Object(int(self.settings.discord_guild_id))
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
        except (discord.HTTPException, ValueError):
            # The bot still answers mentions; commands keep whatever was synced before.
            log.exception("syncing /moa commands failed")
            return
        log.info("synced %d app commands %s", len(synced),
                 f"to guild {self.settings.discord_guild_id}" if self.settings.discord_guild_id else "globally")

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the cog's listener handles messages."""

    async def connect(self, *, reconnect: bool = True) -> None:
        try:
            await super().connect(reconnect=reconnect)
        except discord.ConnectionClosed as err:
            if err.code == SHARDING_REQUIRED:
                raise ShardingRequired(self.settings.discord_shard_count) from None
            raise


class MoaBot(MoaBotMixin, commands.Bot):
    """One gateway connection for all of the bot's guilds (no DISCORD_SHARD_COUNT)."""


class ShardedMoaBot(MoaBotMixin, commands.AutoShardedBot):
    """The shards DISCORD_SHARD_COUNT / DISCORD_SHARD_IDS name, each a gateway connection of this process.

    Discord sends each guild's events to one shard only, `(guild_id >> 22) % shard_count` (DMs to shard 0),
    so processes running different shard ids never see, let alone answer, the same mention.
    """

    _pacer: IdentifyPacer | None = None
    _identified: set[int]

    async def launch_shards(self) -> None:
        assert self.shard_count is not None  # always given: see build_discord_client
        shard_ids = self.shard_ids or range(self.shard_count)
        log.info("starting Discord shards %s of %d", ", ".join(map(str, shard_ids)), self.shard_count)
        self._pacer = await session_start_pacer(self.http, self.shard_count, shard_ids)
        self._identified = set()
        await super().launch_shards()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """A shard's first IDENTIFY waits only as long as Discord's max_concurrency requires; later ones
        (a session Discord dropped) keep discord.py's 5 s pause."""
        if self._pacer is None or shard_id is None or shard_id in self._identified:
            await super().before_identify_hook(shard_id, initial=initial)
            return
        self._identified.add(shard_id)
        await self._pacer.wait(shard_id)


def build_discord_client(settings: Settings, service: ConversationService, **options: Any) -> MoaBotMixin:
    """The bot, not yet logged in. `options` go to discord.py (tests pass `guild_ready_timeout`)."""
    if settings.discord_shard_count is None:
        return MoaBot(settings, service, **options)
    return ShardedMoaBot(settings, service, shard_count=settings.discord_shard_count,
                         shard_ids=list(settings.discord_shard_ids) if settings.discord_shard_ids else None,
                         **options)
