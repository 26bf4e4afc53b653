"""Cached prompt tokens from end to end: a thread's second answer through the real groq SDK against a fake
Groq that caches prefixes is stored, priced, logged and shown in `/moa usage` with its cached share."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.commands.usage import compact
from bot.conversation.service import CommandContext, ConversationService
from moa.events import Usage
from moa.pricing import cost_usd
from tests.bot.conversation.helpers import GENERAL, RecordingSurface, admin, mention, settings_for
from tests.fakes.groq_server import FakeGroq


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeGroq]:
    async with FakeGroq(prefix_cache=True) as server:
        yield server


@pytest_asyncio.fixture
async def service(fake: FakeGroq, tmp_path: Path) -> AsyncIterator[ConversationService]:
    svc = await ConversationService.create(settings_for(fake, tmp_path / "moa.db"))
    yield svc
    await svc.aclose()


async def test_a_threads_cached_tokens_are_stored_priced_logged_and_shown(
        service: ConversationService, fake: FakeGroq, caplog: pytest.LogCaptureFixture) -> None:
    await service.handle_mention(mention("what is MoA?", message_id="m1"), RecordingSurface())
    first_calls = len(fake.calls)
    caplog.set_level(logging.INFO, logger="moa.answers")
    run_id = await service.handle_mention(mention("and who wrote the paper?", message_id="m2"), RecordingSurface())
    second = fake.calls[first_calls:]
    reported = sum(c.cached_tokens for c in second)
    assert reported > 0  # the fake served part of the second answer's prompts from its cache

    assert run_id is not None
    run = await service.db.runs.get(run_id, GENERAL)
    assert run is not None and run.cached_tokens == reported
    assert sum(p.cached_tokens or 0 for p in run.proposers) == sum(c.cached_tokens for c in second if not c.stream)
    as_reported = [(c.model, Usage(c.usage["prompt_tokens"], c.usage["completion_tokens"],  # type: ignore[index]
                                   c.cached_tokens)) for c in second]
    assert run.cost_usd == pytest.approx(sum(cost_usd(m, u) or 0.0 for m, u in as_reported))

    [line] = [r.getMessage() for r in caplog.records if r.name == "moa.answers"]
    assert f" cached={reported} " in line and f" in={run.prompt_tokens} " in line

    reply = await service.run_command(CommandContext(GENERAL, "U1", admin), "usage")
    [cached] = [line.split() for line in reply.text.splitlines() if line.startswith("of them cached")]
    everything = sum(c.cached_tokens for c in fake.calls)  # both answers, today, this week, this month
    assert cached[3:] == [compact(everything)] * 3, cached
