"""Build the bolt AsyncApp for the configured workspace: Web API base, verification, listeners."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.listeners import register_listeners
from adapters.slack.surface import SlackSurface
from bot.conversation.service import ConversationService
from bot.settings import Settings
from bot.surface import ReplySurface
from storage.models import UnfinishedRun

log = logging.getLogger(__name__)


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client; SLACK_API_URL points it at Slack or a compatible server."""
    base = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return AsyncWebClient(token=settings.slack_bot_token, base_url=base)


def build_slack_app(settings: Settings, service: ConversationService) -> AsyncApp:
    """An AsyncApp with bolt's request verification and self-event filtering on, listeners registered."""
    if not settings.slack_bot_token:
        raise ValueError("SLACK_BOT_TOKEN is not set (OAuth & Permissions → Bot User OAuth Token, xoxb-…).")
    if not settings.slack_app_token and not settings.slack_signing_secret:
        raise ValueError("Slack HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → App Credentials); "
                         "or set SLACK_APP_TOKEN (xapp-…) to use Socket Mode.")
    app = AsyncApp(
        client=web_client(settings),
        signing_secret=settings.slack_signing_secret,
        name="moa-bot",
        logger=logging.getLogger("moa-bot.slack"),
    )
    register_listeners(app, service, settings)
    return app


async def recover_unfinished(client: AsyncWebClient, service: ConversationService) -> None:
    """Answer (or tell to ask again) each question the last process never finished, in place of its status."""

    async def rebuild(run: UnfinishedRun) -> ReplySurface:
        return SlackSurface.resume(client, run)

    await service.recover("slack", rebuild)
