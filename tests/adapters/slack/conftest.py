"""The Slack world: fake Groq behind the real engine, a fake Slack Web API, and the real bolt app served
over HTTP on 127.0.0.1 — requests signed as Slack signs them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from aiohttp import web

from adapters.slack.app import build_slack_app, recover_unfinished
from adapters.slack.server import EVENTS_PATH, start_http
from bot.conversation.service import ConversationService
from bot.settings import Settings
from tests.fakes.fixtures import fake_groq  # noqa: F401  (fixture)
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender

SIGNING_SECRET = "test-signing-secret"


class SlackWorld:
    """One bot process (service + bolt app + HTTP server) that can be restarted on the same database."""

    def __init__(self, groq: FakeGroq, slack: FakeSlack, db_path: Path) -> None:
        self.groq = groq
        self.slack = slack
        self.env = {
            "GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": groq.base_url, "MOA_DB_PATH": str(db_path),
            "MOA_CALL_TIMEOUT": "5", "MOA_RUN_DEADLINE": "20", "MOA_SHUTDOWN_GRACE": "2",
            "SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url, "SLACK_HOST": "127.0.0.1", "SLACK_PORT": "0",
            "SLACK_ADMIN_USERS": "U0LISTED",
        }
        self.settings = Settings.load(env=self.env)
        self.service: ConversationService | None = None
        self._runner: web.AppRunner | None = None
        self._recovery: asyncio.Task[None] | None = None
        self.send: SlackSender = SlackSender(slack, "", SIGNING_SECRET)

    async def start(self) -> None:
        self.service = await ConversationService.create(self.settings)
        app = build_slack_app(self.settings, self.service)
        # As run_slack does at start-up: answer or tell what the last process left unanswered.
        self._recovery = asyncio.create_task(recover_unfinished(app.client, self.service))
        self._runner, port = await start_http(app, "127.0.0.1", 0)
        self.send.url = f"http://127.0.0.1:{port}{EVENTS_PATH}"

    async def stop(self) -> None:
        if self._recovery is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
            self._recovery = None
        if self.service is not None:
            await self.service.aclose()
            self.service = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        """Stop the bot process and start a fresh one on the same database file."""
        await self.stop()
        await self.start()


@pytest_asyncio.fixture
async def world(fake_groq: FakeGroq, tmp_path: Path) -> AsyncIterator[SlackWorld]:  # noqa: F811
    fake_groq.latency = 0.05
    async with FakeSlack() as slack:
        w = SlackWorld(fake_groq, slack, tmp_path / "moa.db")
        await w.start()
        try:
            yield w
        finally:
            await w.send.aclose()
            await w.stop()
