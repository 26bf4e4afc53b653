"""What each adapter tells `moa-bot run` and `moa-bot doctor` about itself: one small descriptor per
platform, so the app room iterates them instead of knowing each adapter's classes and errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from bot.checks.tokens import Finding
from bot.conversation.service import ConversationService
from bot.observe.health import Health
from bot.settings import Settings

# A doctor checklist line: ✓ fine, • worth knowing, ✗ a problem that keeps the bot from running.
DoctorLine = tuple[Literal["ok", "note", "bad"], str]


def finding_lines(findings: list[Finding]) -> list[DoctorLine]:
    return [("ok" if finding.ok else "bad", finding.text) for finding in findings]


@dataclass(frozen=True)
class Platform:
    name: str  # "discord", "slack": the task name and the /healthz platform key
    title: str  # the doctor's section heading
    enabled: Callable[[Settings], bool]
    run: Callable[[Settings, ConversationService, asyncio.Event, Health], Coroutine[Any, Any, None]]
    # The operator's sentence for an error that stopped the adapter and needs no traceback, else None.
    fatal_sentence: Callable[[BaseException], str | None]
    # The doctor's lines for this platform; `misplaced` are tokens found in the wrong variables.
    doctor_lines: Callable[[Settings, list[Finding]], Awaitable[list[DoctorLine]]]
