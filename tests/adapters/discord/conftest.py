"""The world for Discord tests: a fake Discord and a fake Groq on 127.0.0.1, and the real bot between them."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from adapters.discord.runner import run_discord
from bot.conversation.service import ConversationService
from bot.settings import Settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.fixtures import fake_groq
from tests.fakes.groq_server import FakeGroq

__all__ = ["fake_groq"]


def bot_env(fake: FakeDiscord, groq: FakeGroq, db_path: Path, **extra: str) -> dict[str, str]:
    """Everything `moa-bot run` needs, as environment variables."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update({
        "DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.base_url, "DISCORD_GATEWAY_URL": fake.gateway_url,
        "GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": groq.base_url, "MOA_DB_PATH": str(db_path),
        "MOA_SHUTDOWN_GRACE": "2",
    })
    env.update(extra)
    return env


class RunningBot:
    """The bot as `moa-bot run` runs it (service + `run_discord`), startable again on the same database."""

    def __init__(self, fake: FakeDiscord, settings: Settings) -> None:
        self.fake = fake
        self.settings = settings
        self.service: ConversationService | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        """No answer in flight: everything asked so far is answered and recorded."""
        return self.service is not None and self.service.busy == 0

    async def start(self) -> RunningBot:
        sessions = len(self.fake.identifies)
        self.service = await ConversationService.create(self.settings)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(run_discord(self.settings, self.service, self._stop,
                                                     guild_ready_timeout=0.05))
        waiter = asyncio.create_task(self.fake.wait_for(lambda f: len(f.identifies) > sessions and f.connected))
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            waiter.cancel()
            try:
                self._task.result()
            except BaseException:  # the adapter stopped at start: close what start opened
                await self.service.aclose()
                self.service = None
                raise
        await waiter
        return self

    async def stop(self) -> None:
        """What SIGTERM does: drain answers in flight, close the gateway, close the service."""
        if self.service is not None:
            await self.service.drain(2)
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 5)
            self._task = None
        if self.service is not None:
            await self.service.aclose()
            self.service = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest_asyncio.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        with fake.install():
            yield fake


@pytest.fixture
def make_settings(discord: FakeDiscord, fake_groq: FakeGroq, tmp_path: Path) -> Callable[..., Settings]:
    def make(**extra: str) -> Settings:
        return Settings.load(env=bot_env(discord, fake_groq, tmp_path / "moa.db", **extra), dotenv=None)

    return make


@pytest_asyncio.fixture
async def start_bot(discord: FakeDiscord, make_settings: Callable[..., Settings]
                    ) -> AsyncIterator[Callable[..., Any]]:
    """`await start_bot(DISCORD_MESSAGE_CONTENT="1")` → a RunningBot, stopped after the test."""
    bots: list[RunningBot] = []

    async def start(**extra: str) -> RunningBot:
        bot = await RunningBot(discord, make_settings(**extra)).start()
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        with contextlib.suppress(Exception):
            await bot.stop()


@pytest_asyncio.fixture
async def bot(start_bot: Callable[..., Any]) -> RunningBot:
    running: RunningBot = await start_bot()
    return running
