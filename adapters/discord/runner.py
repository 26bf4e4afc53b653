"""`moa-bot run`'s Discord part: endpoints, login, gateway, clean stop; and the invite URL for doctor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from adapters.discord.client import build_discord_client
from bot.conversation.service import ConversationService
from bot.observe.health import Health
from bot.settings import Settings

log = logging.getLogger(__name__)

SCOPES = ("bot", "applications.commands")
PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True, send_messages_in_threads=True,
                                  create_public_threads=True, read_message_history=True, embed_links=True,
                                  add_reactions=True)


def invite_url(application_id: int | str) -> str:
    """The OAuth2 URL that adds the bot to a server with the scopes and permissions it needs."""
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


def configure_endpoints(settings: Settings) -> Callable[[], None]:
    """Point discord.py at DISCORD_API_BASE / DISCORD_GATEWAY_URL (process-wide); returns an undo."""
    old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)

    def restore() -> None:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return restore


async def run_discord(settings: Settings, service: ConversationService, stop: asyncio.Event,
                      health: Health | None = None, **client_options: Any) -> None:
    """Serve Discord until `stop` is set, then close the connection cleanly; `health` learns whether
    the gateway connection is up.

    The runner drains answers in flight before setting `stop`, so they can still post over REST.
    """
    restore = configure_endpoints(settings)
    bot = build_discord_client(settings, service, **client_options)
    try:
        async with bot:
            await bot.login(settings.discord_token)
            gateway = asyncio.create_task(bot.connect(), name="discord-gateway")
            if health is not None:
                health.watch("discord", lambda: _gateway_state(bot))
            stopped = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({gateway, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if gateway in done:
                stopped.cancel()
                gateway.result()  # raises what ended the connection (bad token, missing intent…)
                raise RuntimeError("the Discord gateway connection ended")
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError):
                await gateway
    finally:
        restore()
    log.info("discord adapter stopped")


def _gateway_state(bot: discord.Client) -> str | None:
    """None while the gateway connection is up and ready, else why not."""
    if bot.is_closed():
        return "closed"
    ws = bot.ws
    if not bot.is_ready() or ws is None or not ws.open:
        return "connecting to the gateway"
    return None
