"""Builds the discord.py bot: intents, no pings by default, the cog, the persistent buttons, command sync."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from adapters.discord.cog import MoaCog
from adapters.discord.surface import NO_PINGS
from adapters.discord.views import FeedbackButton, LayersPageButton, ShowLayersButton
from bot.service import ConversationService
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


class MoaBot(commands.Bot):
    def __init__(self, settings: Settings, service: ConversationService, **options: Any) -> None:
        options.setdefault("chunk_guilds_at_startup", False)  # members aren't needed: skip the downloads
        super().__init__(command_prefix=commands.when_mentioned, help_command=None,
                         intents=intents_for(settings), allowed_mentions=NO_PINGS, **options)
        self.settings = settings
        self.service = service

    async def setup_hook(self) -> None:
        await self.add_cog(MoaCog(self))
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


def build_discord_client(settings: Settings, service: ConversationService, **options: Any) -> MoaBot:
    """The bot, not yet logged in. `options` go to discord.py (tests pass `guild_ready_timeout`)."""
    return MoaBot(settings, service, **options)
