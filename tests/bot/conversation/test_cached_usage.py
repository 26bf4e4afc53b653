"""Cached prompt tokens and cut answers from end to end, through the real groq SDK against a fake Groq that
caches prefixes and cuts replies at max_tokens: stored, priced, logged and shown (`/moa usage`, layers)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.commands.usage import compact
from bot.conversation.service import CommandContext, ConversationService
from bot.text.render import PLAIN, render_layers
from moa.events import Usage
from moa.pricing import PriceTable
from tests.bot.conversation.helpers import GENERAL, RecordingSurface, admin, mention, settings_for
from tests.fakes.groq_server import FakeGroq, default_reply

cost_usd = PriceTable().cost_usd  # the built-in table


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeGroq]:
    async with FakeGroq(prefix_cache=True, cut_at_max_tokens=True) as server:
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


async def test_a_proposer_cut_at_its_max_tokens_is_marked_in_the_layer_view(
        service: ConversationService, fake: FakeGroq) -> None:
    agent_limit = max(a.max_tokens for _, a in service.settings.default_config.agents)
    fake.reply = lambda call: default_reply(call) + " more" * (agent_limit + 50) if not call.stream \
        else default_reply(call)  # the proposers run long; the streamed final answer does not
    run_id = await service.handle_mention(mention("tell me everything"), RecordingSurface())
    assert run_id is not None
    run = await service.db.runs.get(run_id, GENERAL)
    assert run is not None and run.proposers and all(p.cut for p in run.proposers)
    shown = render_layers(run, PLAIN)
    assert shown.count("cut at its max_tokens") == len(run.proposers)
