"""Each answer leaves one INFO line and its metrics: outcome, calls by model and status, tokens, time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.conversation.service import ConversationService, Mention
from bot.observe import metrics
from storage.models import ChannelKey
from tests.bot.conversation.helpers import RecordingSurface, settings_for
from tests.fakes.groq_server import FakeGroq

CHANNEL = ChannelKey("discord", "G1", "C-metrics")


@pytest_asyncio.fixture
async def service(fake_groq: FakeGroq, tmp_path: Path) -> AsyncIterator[ConversationService]:
    svc = await ConversationService.create(settings_for(fake_groq, tmp_path / "moa.db"))
    yield svc
    await svc.aclose()


def _count(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def _ask(service: ConversationService, text: str) -> RecordingSurface:
    surface = RecordingSurface()
    await service.handle_mention(Mention(CHANNEL, "t1", f"m-{text}", "U1", text), surface)
    return surface


async def test_an_answer_with_one_failed_agent_is_counted_with_its_error_call(
        fake_groq: FakeGroq, service: ConversationService, caplog: pytest.LogCaptureFixture) -> None:
    answered = _count("moa_answers_total", platform="discord", outcome="answered")
    errors = _count("moa_model_calls_total", model="qwen/qwen3.8-27b", status="error")
    seconds = _count("moa_answer_seconds_count")
    fake_groq.fail("qwen/qwen3.8-27b", 400, times=3, message="bad request")

    with caplog.at_level(logging.INFO, logger="moa.answers"):
        surface = await _ask(service, "count this")

    assert surface.final is not None
    assert _count("moa_answers_total", platform="discord", outcome="answered") == answered + 1
    assert _count("moa_model_calls_total", model="qwen/qwen3.8-27b", status="error") >= errors + 1
    assert _count("moa_answer_seconds_count") == seconds + 1
    [record] = [r for r in caplog.records if r.name == "moa.answers"]
    assert record.answer["outcome"] == "answered" and record.answer["calls"] == 10  # type: ignore[attr-defined]
    assert "platform=discord channel=C-metrics" in record.getMessage()


async def test_a_failed_answer_is_counted_as_failed(fake_groq: FakeGroq, service: ConversationService,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    failed = _count("moa_answers_total", platform="discord", outcome="failed")
    fake_groq.fail("*", 401, times=50, message="Invalid API Key")

    with caplog.at_level(logging.INFO, logger="moa.answers"):
        surface = await _ask(service, "this will fail")

    assert surface.failure is not None
    assert _count("moa_answers_total", platform="discord", outcome="failed") == failed + 1
    assert "outcome=failed" in caplog.text


async def test_an_answer_cut_off_by_a_shutdown_is_counted_as_interrupted(
        fake_groq: FakeGroq, service: ConversationService) -> None:
    interrupted = _count("moa_answers_total", platform="discord", outcome="interrupted")
    fake_groq.latency = 30.0
    answer = asyncio.create_task(_ask(service, "cut me off"))
    await fake_groq.wait_for(lambda f: len(f.calls) >= 3)
    await service.drain(grace_s=0)
    await asyncio.wait({answer})  # drain cancelled it

    assert _count("moa_answers_total", platform="discord", outcome="interrupted") == interrupted + 1


async def test_a_failed_answer_logs_the_cost_storage_records(
        fake_groq: FakeGroq, service: ConversationService, caplog: pytest.LogCaptureFixture) -> None:
    config = service.settings.default_config
    fallback = config.fallback()
    assert fallback is not None
    for model in (config.main_model, fallback):  # the proposers answer (and cost), then no one can aggregate
        fake_groq.fail(model, 400, times=100)

    with caplog.at_level(logging.INFO, logger="moa.answers"):
        surface = RecordingSurface()
        run_id = await service.handle_mention(Mention(CHANNEL, "t1", "m-pay", "U1", "who pays?"), surface)

    assert surface.failure is not None and run_id is not None
    run = await service.db.runs.get(run_id, CHANNEL)
    assert run is not None and run.cost_usd is not None and run.cost_usd > 0
    [record] = [r for r in caplog.records if r.name == "moa.answers"]
    assert record.answer["outcome"] == "failed"  # type: ignore[attr-defined]
    assert record.answer["cost_usd"] == run.cost_usd  # type: ignore[attr-defined]
    assert "cost=unknown" not in record.getMessage() and "cost=$" in record.getMessage()


async def test_tokens_a_server_did_not_report_are_counted_and_marked_estimated(
        fake_groq: FakeGroq, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "local.json"
    config.write_text('{"main_model": "local:est", "cycles": 1, "layer_agent_config": {'
                      '"a": {"model_name": "local:est", "system_prompt": "{helper_response}"}}}')
    async with FakeGroq.local(["est"], usage_mode="never") as local:
        svc = await ConversationService.create(settings_for(
            fake_groq, tmp_path / "local.db", MOA_PROVIDERS=f"local={local.openai_base_url}", MOA_CONFIG=str(config)))
        try:
            estimated = _count("moa_estimated_tokens_total", model="local:est", kind="completion")
            with caplog.at_level(logging.INFO, logger="moa.answers"):
                surface = await _ask(svc, "estimate me")
        finally:
            await svc.aclose()
    assert surface.final is not None
    # the aggregator's streamed call carried no usage: its tokens are counted, as an estimate
    assert _count("moa_estimated_tokens_total", model="local:est", kind="completion") > estimated
    [record] = [r for r in caplog.records if r.name == "moa.answers"]
    assert record.answer["tokens_estimated"] is True  # type: ignore[attr-defined]
    assert "tokens=≈" in record.getMessage()
