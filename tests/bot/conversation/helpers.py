"""Helpers the conversation tests share: a recording reply surface, settings against the fake Groq, mentions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from bot.conversation.service import Mention
from bot.settings import Settings
from bot.surface import FinalAnswer, Progress
from storage.models import ChannelKey
from tests.fakes.groq_server import FakeGroq

GENERAL = ChannelKey("slack", "T1", "C-general")


class RecordingSurface:
    """A ReplySurface that remembers everything shown, with wait_for on a condition."""

    min_update_interval = 0.0

    def __init__(self) -> None:
        self.progress: list[tuple[float, Progress]] = []
        self.partials: list[str] = []
        self.final: FinalAnswer | None = None
        self.failure: str | None = None
        self.failure_run: int | None = None
        self._changed = asyncio.Condition()

    async def _note(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def show_progress(self, progress: Progress) -> None:
        self.progress.append((time.monotonic(), progress))
        await self._note()

    async def stream_answer(self, partial: str) -> None:
        self.partials.append(partial)
        await self._note()

    async def finish(self, answer: FinalAnswer) -> list[str]:
        self.final = answer
        await self._note()
        return [f"answer-{answer.run_id}"]

    async def fail(self, message: str, run_id: int | None) -> None:
        self.failure, self.failure_run = message, run_id
        await self._note()

    def handle(self) -> str | None:
        return '{"status": "recorded"}' if self.progress else None

    async def wait_for(self, predicate: Callable[[RecordingSurface], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self))


def settings_for(fake: FakeGroq, db: Path, **extra: str) -> Settings:
    env = {"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url, "MOA_DB_PATH": str(db),
           "MOA_CALL_TIMEOUT": "5", "MOA_RUN_DEADLINE": "20", "MOA_RETRY_BACKOFF": "0.01", **extra}
    return Settings.load(env=env)


async def admin() -> bool:
    return True


def mention(text: str, channel: ChannelKey = GENERAL, thread: str = "t1", message_id: str = "m1") -> Mention:
    return Mention(channel=channel, thread=thread, message_id=message_id, author="U1", text=text)
