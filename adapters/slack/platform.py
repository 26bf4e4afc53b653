"""The Slack adapter as `moa-bot run` and `moa-bot doctor` see it (adapters/platform.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.platform import DoctorLine, Platform, finding_lines
from bot.checks.tokens import Finding, check_slack
from bot.conversation.service import ConversationService
from bot.observe.health import Health
from bot.settings import Settings

SLACK_MANIFEST = Path(__file__).resolve().parent / "manifest.yaml"


async def _run(settings: Settings, service: ConversationService, stop: asyncio.Event, health: Health) -> None:
    from adapters.slack.server import run_slack  # slack-bolt loads only when Slack is configured

    await run_slack(settings, service, stop, health)


def _fatal_sentence(err: BaseException) -> str | None:
    from adapters.slack.server import PortUnavailable

    return str(err) if isinstance(err, PortUnavailable) else None


async def _doctor_lines(settings: Settings, misplaced: list[Finding]) -> list[DoctorLine]:
    lines: list[DoctorLine]
    if not settings.slack_enabled:
        lines = [("note", "SLACK_BOT_TOKEN not set — Slack adapter off (docs/slack.md)")]
    else:
        wrong = [f for f in misplaced if f.platform == "slack"]
        lines = finding_lines(wrong or await check_slack(settings))
        if settings.slack_app_token:
            lines.append(("ok", "Socket Mode (SLACK_APP_TOKEN)"))
        elif settings.slack_signing_secret:
            lines.append(("ok", f"HTTP mode on port {settings.slack_port}: point Event Subscriptions, Slash "
                                "Commands and Interactivity at https://YOUR-HOST/slack/events"))
        else:
            lines.append(("bad", "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)"))
    lines.append(("note", f"Slack app manifest: {SLACK_MANIFEST}"))
    return lines


SLACK = Platform(name="slack", title="Slack", enabled=lambda settings: settings.slack_enabled, run=_run,
                 fatal_sentence=_fatal_sentence, doctor_lines=_doctor_lines)
