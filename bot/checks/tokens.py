"""Checking the platform tokens before the bot starts: their shape, then the platform's own answer.

A wrong token must stop `moa-bot run` with one sentence naming the variable and what to do, not run on
half-connected (a wrong Slack bot token used to drop every mention; a wrong app token retried forever).
`moa-bot doctor` shows the same findings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

CHECK_TIMEOUT_S = 15.0
SLACK_APPS = "https://api.slack.com/apps"
DISCORD_APPS = "https://discord.com/developers/applications"
BOT_TOKEN_HOW = f"copy the Bot User OAuth Token (xoxb-…) from {SLACK_APPS} → your app → OAuth & Permissions"
APP_TOKEN_HOW = (f"create an app-level token with the connections:write scope at {SLACK_APPS} → your app → "
                 "Basic Information → App-Level Tokens (xapp-…), and turn Socket Mode on")
DISCORD_HOW = f"reset the token at {DISCORD_APPS} → your app → Bot → Reset Token and copy it whole"


@dataclass(frozen=True)
class Finding:
    """One check's outcome; `text` is a sentence for the operator, `platform` whose setting it is about."""

    ok: bool
    text: str
    platform: str = ""  # "slack", "discord"


def misplaced_tokens(settings: Settings) -> list[Finding]:
    """Tokens in the wrong variable, told by their prefixes alone (no network)."""
    found: list[Finding] = []
    bot, app = settings.slack_bot_token, settings.slack_app_token
    if bot.startswith("xapp-"):
        swapped = " — SLACK_BOT_TOKEN and SLACK_APP_TOKEN look swapped" if app.startswith("xoxb-") else ""
        found.append(Finding(False, f"SLACK_BOT_TOKEN holds an app-level token (xapp-…){swapped}: "
                                    f"{BOT_TOKEN_HOW}.", "slack"))
    elif bot.startswith("xoxp-"):
        found.append(Finding(False, f"SLACK_BOT_TOKEN holds a user token (xoxp-…): {BOT_TOKEN_HOW}.", "slack"))
    if app and not app.startswith("xapp-") and not bot.startswith("xapp-"):
        found.append(Finding(False, "SLACK_APP_TOKEN must be an app-level token (xapp-…), not "
                                    f"{_prefix(app)}: {APP_TOKEN_HOW}.", "slack"))
    if settings.discord_token.lower().startswith("bot "):
        found.append(Finding(False, "DISCORD_TOKEN must be the token alone, without the \"Bot \" in front.",
                             "discord"))
    elif settings.discord_token.startswith(("xoxb-", "xapp-", "gsk_")):
        found.append(Finding(False, f"DISCORD_TOKEN holds a {_prefix(settings.discord_token)} token, "
                                    f"not a Discord bot token: {DISCORD_HOW}.", "discord"))
    return found


def _prefix(token: str) -> str:
    """The kind of token by its prefix, for a sentence ("xoxb-…")."""
    for prefix in ("xoxb-", "xoxp-", "xapp-", "gsk_"):
        if token.startswith(prefix):
            return f"{prefix}…"
    return "another kind of token"


def _slack_client(settings: Settings, token: str) -> AsyncWebClient:
    base = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return AsyncWebClient(token=token, base_url=base, timeout=int(CHECK_TIMEOUT_S))


async def _slack_call(settings: Settings, variable: str, token: str, method: str, how: str) -> Finding:
    client = _slack_client(settings, token)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            response = await client.api_call(method)
    except SlackApiError as err:
        code = err.response.get("error") or f"HTTP {err.response.status_code}"
        return Finding(False, f"{variable} was refused by Slack ({code}): {how}.")
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        return Finding(False, f"Could not reach Slack at {settings.slack_api_url} to check {variable} "
                              f"({_reason(err)}): check the network, or SLACK_API_URL.")
    if method == "auth.test":
        who = response.get("user") or response.get("user_id") or "the bot"
        team = response.get("team") or response.get("team_id") or "its workspace"
        return Finding(True, f"{variable} works: @{who} in {team}")
    return Finding(True, f"{variable} works: Socket Mode connections open")


async def check_slack(settings: Settings) -> list[Finding]:
    """auth.test for SLACK_BOT_TOKEN; apps.connections.open for SLACK_APP_TOKEN (Socket Mode)."""
    checks = [_slack_call(settings, "SLACK_BOT_TOKEN", settings.slack_bot_token, "auth.test", BOT_TOKEN_HOW)]
    if settings.slack_app_token:
        checks.append(_slack_call(settings, "SLACK_APP_TOKEN", settings.slack_app_token,
                                  "apps.connections.open", APP_TOKEN_HOW))
    return list(await asyncio.gather(*checks))


async def check_discord(settings: Settings) -> list[Finding]:
    """GET /users/@me with DISCORD_TOKEN, as discord.py's login does."""
    url = settings.discord_api_base.rstrip("/") + "/users/@me"
    headers = {"Authorization": f"Bot {settings.discord_token}"}
    try:
        async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)) as http,
                    http.get(url, headers=headers) as response):
            if response.status == 401:
                return [Finding(False, f"DISCORD_TOKEN was refused by Discord (401 Unauthorized): {DISCORD_HOW}.")]
            if response.status >= 400:
                return [Finding(False, f"Discord answered {response.status} to the DISCORD_TOKEN check at {url}: "
                                       "check DISCORD_API_BASE, or try again later.")]
            me = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as err:
        return [Finding(False, f"Could not reach Discord at {settings.discord_api_base} to check DISCORD_TOKEN "
                               f"({_reason(err)}): check the network, or DISCORD_API_BASE.")]
    name = me.get("username", "the bot") if isinstance(me, dict) else "the bot"
    return [Finding(True, f"DISCORD_TOKEN works: logged in as {name}")]


async def check_tokens(settings: Settings) -> list[Finding]:
    """Every configured platform token: prefixes first; only well-placed tokens are sent to a platform."""
    misplaced = misplaced_tokens(settings)
    if misplaced:
        return misplaced
    checks = []
    if settings.slack_enabled:
        checks.append(check_slack(settings))
    if settings.discord_enabled:
        checks.append(check_discord(settings))
    return [finding for found in await asyncio.gather(*checks) for finding in found]


def _reason(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT_S:.0f} s"
    text = str(err).strip()
    return text or type(err).__name__
