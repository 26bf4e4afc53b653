"""The answer's root span says how the answer ended, a crash included (spans kept in memory by the SDK)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan

from bot.conversation.service import ConversationService
from bot.surface import FinalAnswer
from tests.bot.conversation.helpers import RecordingSurface, mention, settings_for
from tests.fakes.groq_server import FakeGroq
from tests.moa.test_trace import spans  # noqa: F401  # the in-memory span fixture


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeGroq]:
    async with FakeGroq() as server:
        yield server


class _BrokenSurface(RecordingSurface):
    """A surface with a bug: showing the final answer raises."""

    async def finish(self, answer: FinalAnswer) -> list[str]:
        raise TypeError("a bug in the surface")


async def test_an_answer_that_crashes_on_a_bug_is_a_failed_root_span_not_an_interrupted_one(
        fake: FakeGroq, tmp_path: Path, spans: list[ReadableSpan]) -> None:  # noqa: F811
    service = await ConversationService.create(settings_for(fake, tmp_path / "moa.db"))
    try:
        surface = _BrokenSurface()
        await asyncio.wait_for(service.handle_mention(mention("will this crash?"), surface), 20)
        assert surface.failure is not None  # the person is told, in a sentence
    finally:
        await service.aclose()

    [root] = [s for s in spans if s.name == "invoke_agent moa"]
    assert root.attributes is not None and root.attributes.get("moa.outcome") == "failed"
    assert root.attributes.get("error.type") == "TypeError"
