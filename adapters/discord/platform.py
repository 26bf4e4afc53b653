"""The Discord adapter as `moa-bot run` and `moa-bot doctor` see it (adapters/platform.py)."""

from __future__ import annotations

import asyncio
import base64
import binascii

from adapters.platform import DoctorLine, Platform, finding_lines
from bot.checks.tokens import Finding, check_discord
from bot.conversation.service import ConversationService
from bot.observe.health import Health
from bot.settings import Settings


def application_id_from_token(token: str) -> str | None:
    """A bot token's first part is the base64 of the bot's user id, which is its application id."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(head + "=" * (-len(head) % 4), validate=False).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded if decoded.isdigit() else None


async def _run(settings: Settings, service: ConversationService, stop: asyncio.Event, health: Health) -> None:
    from adapters.discord.runner import run_discord  # discord.py loads only when Discord is configured

    await run_discord(settings, service, stop, health)


def _fatal_sentence(err: BaseException) -> str | None:
    import discord

    from adapters.discord.shards import ShardingRequired

    if isinstance(err, ShardingRequired):  # its message says to set DISCORD_SHARD_COUNT
        return str(err)
    if isinstance(err, discord.LoginFailure):  # the token stopped working since the start-up check
        return "DISCORD_TOKEN was refused by Discord at login: reset it in the Developer Portal → Bot."
    return None


async def _doctor_lines(settings: Settings, misplaced: list[Finding]) -> list[DoctorLine]:
    if not settings.discord_enabled:
        return [("note", "DISCORD_TOKEN not set — Discord adapter off (docs/discord.md)")]
    wrong = [f for f in misplaced if f.platform == "discord"]
    lines = finding_lines(wrong or await check_discord(settings))
    app_id = application_id_from_token(settings.discord_token)
    if app_id:
        from adapters.discord.runner import invite_url

        lines.append(("ok", f"invite the bot: {invite_url(app_id)}"))
    if settings.discord_guild_id:
        lines.append(("ok", f"slash commands sync to guild {settings.discord_guild_id} at once"))
    else:
        lines.append(("note", "slash commands sync globally (can take up to an hour); set DISCORD_GUILD_ID for "
                              "instant sync"))
    if settings.discord_message_content:
        lines.append(("ok", "message-content intent on: follow-ups in bot threads need no mention "
                            "(enable it in the Developer Portal → Bot → Privileged Gateway Intents too)"))
    else:
        lines.append(("note", "message-content intent off (DISCORD_MESSAGE_CONTENT): mentions and DMs work; "
                              "follow-ups in a bot thread need a mention. Enable it in the Developer Portal and "
                              "set DISCORD_MESSAGE_CONTENT=1."))
    return lines


DISCORD = Platform(name="discord", title="Discord", enabled=lambda settings: settings.discord_enabled, run=_run,
                   fatal_sentence=_fatal_sentence, doctor_lines=_doctor_lines)
