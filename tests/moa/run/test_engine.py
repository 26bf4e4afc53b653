"""The MoA engine driven end to end: the real groq SDK over HTTP against the fake Groq on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from moa.calls.providers import ProviderRegistry, RetryPolicy
from moa.config.schema import AGGREGATE_AND_SYNTHESIZE, AgentConfig, MoaConfig, parse_config
from moa.events import (
    AggregatorDelta,
    AggregatorStarted,
    LayerStarted,
    MoaEvent,
    ProposerFinished,
    RunFailed,
    RunFinished,
    Turn,
    Usage,
)
from moa.pricing import PRICES
from moa.run.engine import MoaEngine, layer_cost, layer_usage
from tests.fakes.groq_server import REASONING_MARK, FakeCall, FakeGroq
from tests.moa.helpers import TRANSPORTS

FAST, STRONG, QWEN = "openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3.8-27b"
QUICK_RETRY = RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05)


def make_config(models: Sequence[str] = (FAST, QWEN, FAST), *, layers: int = 2, main: str = STRONG,
                **extra: object) -> MoaConfig:
    agents = {f"agent_{i}": AgentConfig(model_name=m, system_prompt=f"You are agent {i}. {{helper_response}}")
              for i, m in enumerate(models, start=1)}
    return MoaConfig(main_model=main, layers=layers, layer_agent_config=agents, **extra)  # type: ignore[arg-type]


# groq[aiohttp] is a dependency, so both clients are always there to test.
_transport = {"name": "auto"}


@pytest.fixture(params=TRANSPORTS, autouse=True)
def transport(request: pytest.FixtureRequest) -> str:
    """Every test runs over both HTTP clients the groq SDK offers."""
    _transport["name"] = request.param
    return str(request.param)


def make_engine(fake: FakeGroq, *, call_timeout_s: float = 10.0, deadline_s: float = 30.0,
                env: dict[str, str] | None = None, retry: RetryPolicy = QUICK_RETRY,
                **engine_options: Any) -> MoaEngine:
    registry = ProviderRegistry.from_env(
        {"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url, "MOA_HTTP_TRANSPORT": _transport["name"],
         **(env or {})},
        call_timeout_s=call_timeout_s, deadline_s=deadline_s, retry=retry)
    return MoaEngine(registry, call_timeout_s=call_timeout_s, deadline_s=deadline_s, **engine_options)


@pytest.fixture
async def engine(fake_groq: FakeGroq, transport: str) -> AsyncIterator[MoaEngine]:
    eng = make_engine(fake_groq)
    yield eng
    await eng.providers.aclose()


async def collect(engine: MoaEngine, question: str, config: MoaConfig,
                  history: Sequence[Turn] = ()) -> list[MoaEvent]:
    async def run() -> list[MoaEvent]:
        return [event async for event in engine.run(question, config, history)]
    return await asyncio.wait_for(run(), 20)  # never a hang


def final(events: list[MoaEvent]) -> RunFinished | RunFailed:
    last = events[-1]
    assert isinstance(last, RunFinished | RunFailed)
    assert sum(isinstance(e, RunFinished | RunFailed) for e in events) == 1
    return last


def proposer_calls(fake: FakeGroq) -> list[FakeCall]:
    return [c for c in fake.calls if not c.stream]


# ---- flow ------------------------------------------------------------------------------------------
async def test_proposers_of_a_layer_run_at_the_same_time(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.latency = 0.3
    events = await collect(engine, "Is it parallel?", make_config(layers=1))
    assert isinstance(final(events), RunFinished)
    layer = proposer_calls(fake_groq)
    assert len(layer) == 3
    # every proposer started before any of them finished
    assert max(c.started for c in layer) < min(c.ended or 0 for c in layer)


async def test_each_layer_sees_the_previous_layers_answers(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    config = make_config(layers=3, aggregate_prompt="Combine these candidate answers carefully:")
    events = await collect(engine, "What is MoA?", config)
    done = final(events)
    assert isinstance(done, RunFinished)
    calls = proposer_calls(fake_groq)
    assert len(calls) == 9
    by_layer = [calls[0:3], calls[3:6], calls[6:9]]
    for c in by_layer[0]:  # layer 1: the slot is replaced by nothing
        assert c.system.startswith("You are agent") and c.seen_answers == 0
        assert "Combine these" not in c.system and "{helper_response}" not in c.system
    for layer_no, layer in enumerate(by_layer[1:], start=2):
        previous = done.layers[layer_no - 2].outputs
        expected = "Combine these candidate answers carefully:\n\n" + "\n\n".join(
            f"{i}. {p.text}" for i, p in enumerate(previous, start=1))
        for c in layer:
            assert c.seen_answers == 3
            assert c.system.endswith(expected), c.system
    aggregator = next(c for c in fake_groq.calls if c.stream)
    assert aggregator.model == STRONG
    assert aggregator.seen_answers == 3
    assert all(p.text in aggregator.system for p in done.layers[-1].outputs)
    assert done.answer == f"{STRONG} says: What is MoA? [saw 3 answers]"
    assert [p.text for p in done.layers[0].outputs] == [
        f"{FAST} says: What is MoA? [saw 0 answers]", f"{QWEN} says: What is MoA? [saw 0 answers]",
        f"{FAST} says: What is MoA? [saw 0 answers]"]
    assert all(p.text.endswith("[saw 3 answers]") for p in done.layers[2].outputs)


async def test_the_papers_instruction_is_the_default(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    await collect(engine, "q", make_config(layers=2))
    assert all(AGGREGATE_AND_SYNTHESIZE + "\n\n1. " in c.system for c in fake_groq.calls[3:])


async def test_event_order(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    events = await collect(engine, "q", make_config(layers=2))
    kinds = [e.type for e in events]
    assert kinds[:4] == ["layer_started"] + ["proposer_finished"] * 3
    assert kinds[4:8] == ["layer_started"] + ["proposer_finished"] * 3
    assert kinds[8] == "aggregator_started"
    assert set(kinds[9:-1]) == {"aggregator_delta"} and len(kinds[9:-1]) > 3
    assert kinds[-1] == "run_finished"
    first = events[0]
    assert isinstance(first, LayerStarted)
    assert (first.layer, first.total_layers, first.agents) == (1, 2, ("agent_1", "agent_2", "agent_3"))
    assert first.models == (FAST, QWEN, FAST)


async def test_the_aggregator_streams_before_it_finishes(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.latency_by_model[STRONG] = 0.6
    first_delta: float | None = None
    deltas: list[str] = []
    done = None
    async for event in engine.run("Stream it", make_config(layers=1)):
        if isinstance(event, AggregatorDelta):
            first_delta = first_delta or time.monotonic()
            deltas.append(event.text)
        if isinstance(event, RunFinished):
            done = event
    aggregator = next(c for c in fake_groq.calls if c.stream)
    assert first_delta is not None and aggregator.ended is not None
    assert first_delta < aggregator.ended - 0.15  # seen while the aggregator was still writing
    assert len(deltas) > 3
    assert done is not None and "".join(deltas) == done.answer
    assert done.timings.first_token_s is not None and done.timings.first_token_s < done.timings.total_s


async def test_history_reaches_every_agent(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    history = [Turn("user", "My name is Ada.", author="ada"), Turn("assistant", "Hello Ada!")]
    await collect(engine, "What is my name?", make_config(layers=2), history)
    assert len(fake_groq.calls) == 7
    for call in fake_groq.calls:  # the default layout: the instruction, the thread, then the question
        assert [m["role"] for m in call.messages] == ["system", "user", "assistant", "user"]
        assert call.messages[1]["content"] == "ada: My name is Ada."
        assert call.messages[2]["content"] == "Hello Ada!"
        assert call.messages[3]["content"].startswith("What is my name?")  # later layers: the answers after it


async def test_agent_settings_reach_the_api(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    config = MoaConfig(main_model=STRONG, layers=1, temperature=0.2, max_tokens=777, layer_agent_config={
        "a": AgentConfig(model_name=FAST, temperature=1.3, max_tokens=321)})
    await collect(engine, "q", config)
    proposer, aggregator = fake_groq.calls
    assert (proposer.temperature, proposer.max_tokens) == (1.3, 321)
    assert (aggregator.temperature, aggregator.max_tokens) == (0.2, 777)


# ---- reasoning ---------------------------------------------------------------------------------------
async def test_reasoning_never_feeds_the_next_layer_or_the_answer(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.models.append("acme/r1-thinker")
    fake_groq.think_in_content.add("acme/r1-thinker")  # <think>…</think> in the content, Ollama style
    config = make_config((FAST, QWEN, "acme/r1-thinker"), layers=2, main="acme/r1-thinker")
    events = await collect(engine, "Think hard", config)
    done = final(events)
    assert isinstance(done, RunFinished)
    # gpt-oss: reasoning arrives in its own field; qwen: asked to hide it; the thinker: tags in content
    assert [c.reasoning_format for c in fake_groq.calls[:3]] == [None, "hidden", None]
    for call in fake_groq.calls:
        assert REASONING_MARK not in str(call.messages)
        assert "<think>" not in str(call.messages)
    texts = [e.text for e in events if isinstance(e, ProposerFinished | AggregatorDelta)]
    assert all(REASONING_MARK not in t and "think>" not in t for t in texts)
    assert done.answer == "acme/r1-thinker says: Think hard [saw 3 answers]"


async def test_qwen_reasoning_is_stripped_even_if_not_hidden(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.think_in_content.add(QWEN)
    done = final(await collect(engine, "q", make_config((QWEN,), layers=1, main=QWEN)))
    assert isinstance(done, RunFinished)
    assert done.layers[0].outputs[0].text == f"{QWEN} says: q [saw 0 answers]"
    assert done.answer == f"{QWEN} says: q [saw 1 answers]"


# ---- usage and cost ----------------------------------------------------------------------------------
async def test_usage_per_call_layer_and_answer(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    done = final(await collect(engine, "count my tokens", make_config((FAST, FAST), layers=2)))
    assert isinstance(done, RunFinished)
    outputs = [o for layer in done.layers for o in layer.outputs]
    assert all(o.usage is not None and o.usage.total_tokens > 0 for o in outputs)
    proposer_usage = sum((o.usage for o in outputs if o.usage), Usage())
    assert done.usage.total_tokens > proposer_usage.total_tokens  # + the aggregator's x_groq.usage
    expected = sum(PRICES[o.model].cost(o.usage) for o in outputs if o.usage)
    assert done.cost_usd is not None and done.cost_usd > expected
    assert all(o.cost_usd is not None for o in outputs)
    per_layer = [layer_usage(layer.outputs) for layer in done.layers]
    assert sum(per_layer, Usage()) == proposer_usage and all(u.total_tokens > 0 for u in per_layer)
    assert sum(layer_cost(layer.outputs) or 0 for layer in done.layers) == pytest.approx(expected)
    aggregator = next(c for c in fake_groq.calls if c.stream)
    assert aggregator.usage is not None  # the streamed call's usage came from its last chunk's x_groq
    assert done.usage.total_tokens - proposer_usage.total_tokens == aggregator.usage["total_tokens"]
    assert proposer_usage.total_tokens == sum(c.usage["total_tokens"] for c in proposer_calls(fake_groq) if c.usage)


async def test_unknown_price_is_unknown_not_zero(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    unpriced = "acme/new-model"  # live on Groq, not yet in the price table
    fake_groq.models.append(unpriced)
    done = final(await collect(engine, "q", make_config((FAST, unpriced), layers=1)))
    assert isinstance(done, RunFinished)
    new = next(o for o in done.layers[0].outputs if o.model == unpriced)
    assert new.cost_usd is None
    assert done.cost_usd is None


# ---- faults ------------------------------------------------------------------------------------------
async def test_one_failed_proposer_never_costs_the_answer(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.fail(QWEN, 500, times=10)
    done = final(await collect(engine, "q", make_config((FAST, QWEN, FAST), layers=2)))
    assert isinstance(done, RunFinished)
    for layer in done.layers:
        failed = [o for o in layer.outputs if not o.ok]
        assert [o.agent for o in failed] == ["agent_2"]
        assert failed[0].text == "" and QWEN in (failed[0].error or "") and "500" in (failed[0].error or "")
    aggregator = next(c for c in fake_groq.calls if c.stream)
    assert aggregator.seen_answers == 2
    assert done.warnings and "1 of 3 agents failed in layer 1" in done.warnings[0]


async def test_all_proposers_failing_ends_with_a_clear_error(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.fail("*", 503, times=100)
    events = await collect(engine, "q", make_config(layers=2))
    failed = final(events)
    assert isinstance(failed, RunFailed) and failed.kind == "all_proposers_failed"
    assert "Every agent of layer 1 failed" in failed.error and "503" in failed.error
    assert not any(c.stream for c in fake_groq.calls)  # the aggregator was never called
    assert [e.type for e in events].count("layer_started") == 1


async def test_a_failed_aggregator_is_replaced_by_the_strongest_proposer(fake_groq: FakeGroq,
                                                                         engine: MoaEngine) -> None:
    fake_groq.fail(STRONG, 500, times=10)
    done = final(await collect(engine, "q", make_config((FAST, QWEN), layers=1)))
    assert isinstance(done, RunFinished) and done.model == QWEN  # 27b over 20b
    assert done.answer == f"{QWEN} says: q [saw 2 answers]"
    assert any(STRONG in w and "500" in w and f"{QWEN} wrote this answer instead" in w for w in done.warnings)


async def test_the_configs_fallback_model_writes_when_the_aggregator_fails(fake_groq: FakeGroq,
                                                                           engine: MoaEngine) -> None:
    fake_groq.fail(STRONG, 503, times=10)
    done = final(await collect(engine, "q", make_config((QWEN,), layers=1, fallback_model=FAST)))
    assert isinstance(done, RunFinished) and done.model == FAST
    assert [c.model for c in fake_groq.calls if c.stream][-1] == FAST


async def test_aggregator_and_fallback_failing_ends_with_a_clear_error(fake_groq: FakeGroq,
                                                                      engine: MoaEngine) -> None:
    fake_groq.fail(STRONG, 500, times=10)
    fake_groq.fail(QWEN, 500, times=10)
    events = await collect(engine, "q", make_config((FAST, QWEN), layers=1))
    failed = final(events)
    assert isinstance(failed, RunFailed) and failed.kind == "aggregator_failed"
    assert STRONG in failed.error and "500" in failed.error and f"The fallback ({QWEN}) failed too" in failed.error
    assert failed.layers and failed.layers[0].outputs[0].ok
    restarted = [e for e in events if isinstance(e, AggregatorStarted) and e.restarted]
    assert [e.model for e in restarted] == [QWEN]


async def test_decommissioned_model_is_named_with_live_alternatives(fake_groq: FakeGroq) -> None:
    # A quorum of both: naming the alternatives costs a models.list() call, which must not make the failing
    # call a straggler left out before its error is known.
    engine = make_engine(fake_groq, quorum=2)
    fake_groq.models.append("gemma2-9b-it")
    fake_groq.decommissioned.add("gemma2-9b-it")
    done = final(await collect(engine, "q", make_config((FAST, "gemma2-9b-it"), layers=2)))
    assert isinstance(done, RunFinished)
    errors = [o.error for layer in done.layers for o in layer.outputs if not o.ok]
    assert len(errors) == 2
    assert "gemma2-9b-it" in errors[0] and "decommissioned" in errors[0]
    assert FAST in errors[0] and STRONG in errors[0]  # live alternatives, from models.list()
    assert len(fake_groq.calls_to("gemma2-9b-it")) == 1  # not called again in layer 2
    await engine.providers.aclose()


async def test_unknown_aggregator_model_is_named_and_the_fallback_answers(fake_groq: FakeGroq,
                                                                           engine: MoaEngine) -> None:
    done = final(await collect(engine, "q", make_config((FAST,), layers=1, main="nobody/no-model")))
    assert isinstance(done, RunFinished) and done.model == FAST
    assert any("nobody/no-model" in w and STRONG in w for w in done.warnings)  # live alternatives named


async def test_unknown_aggregator_and_fallback_fail_naming_the_aggregator(fake_groq: FakeGroq,
                                                                          engine: MoaEngine) -> None:
    failed = final(await collect(engine, "q", make_config((FAST,), layers=1, main="nobody/no-model",
                                                          fallback_model="nobody/other")))
    assert isinstance(failed, RunFailed) and failed.kind == "model_unavailable"
    assert "nobody/no-model" in failed.error and STRONG in failed.error


async def test_429_waits_as_retry_after_asks(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.fail(FAST, 429, retry_after=0.4)
    done = final(await collect(engine, "q", make_config((FAST,), layers=1)))
    assert isinstance(done, RunFinished) and done.layers[0].outputs[0].ok
    first, second = fake_groq.calls_to(FAST)
    assert first.status == 429 and second.status == 200
    assert second.started - (first.ended or 0) >= 0.4


async def test_429_beyond_the_sdks_60s_cap_is_still_honoured(fake_groq: FakeGroq) -> None:
    engine = make_engine(fake_groq, deadline_s=300)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    engine.providers.sleep = sleep
    fake_groq.fail(FAST, 429, retry_after=90)
    done = final(await collect(engine, "q", make_config((FAST,), layers=1)))
    await engine.providers.aclose()
    assert isinstance(done, RunFinished) and done.layers[0].outputs[0].ok
    assert waits == [90.0]


async def test_429_longer_than_the_deadline_fails_at_once(fake_groq: FakeGroq) -> None:
    engine = make_engine(fake_groq, deadline_s=5)
    fake_groq.fail(FAST, 429, retry_after=120)
    done = final(await collect(engine, "q", make_config((FAST, QWEN), layers=1)))
    await engine.providers.aclose()
    assert isinstance(done, RunFinished)
    assert len(fake_groq.calls_to(FAST)) == 1  # no waiting for a retry that could not fit the deadline
    error = done.layers[0].outputs[0].error or ""
    assert "rate-limited" in error and "120 s" in error


async def test_server_errors_are_retried_with_backoff(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.fail(FAST, 503, times=2)
    fake_groq.fail(QWEN, 498)  # flex capacity: the SDK would not retry it
    done = final(await collect(engine, "q", make_config((FAST, QWEN), layers=1)))
    assert isinstance(done, RunFinished)
    assert all(o.ok for o in done.layers[0].outputs)
    assert [c.status for c in fake_groq.calls_to(FAST)] == [503, 503, 200]
    assert [c.status for c in fake_groq.calls_to(QWEN)] == [498, 200]


async def test_413_retries_with_a_max_tokens_that_fits(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.fail(FAST, 413)  # "Limit 8000, Requested 12000"
    config = MoaConfig(main_model=STRONG, layers=1, layer_agent_config={
        "big": AgentConfig(model_name=FAST, max_tokens=8192), "small": AgentConfig(model_name=QWEN)})
    fake_groq.fail(QWEN, 413)
    done = final(await collect(engine, "q", config))
    assert isinstance(done, RunFinished)
    big, small = done.layers[0].outputs
    assert big.ok and [c.max_tokens for c in fake_groq.calls_to(FAST)] == [8192, 8192 - 4000 - 16]
    assert not small.ok and "fewer" in (small.error or "") and "max_tokens" in (small.error or "")


async def test_a_slow_call_times_out(fake_groq: FakeGroq) -> None:
    # A quorum of every agent and no hedging: only the call timeout ends the slow call.
    engine = make_engine(fake_groq, call_timeout_s=0.3, retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01),
                         quorum=2, hedge=False)
    fake_groq.latency_by_model[QWEN] = 30
    done = final(await collect(engine, "q", make_config((FAST, QWEN), layers=1)))
    await engine.providers.aclose()
    assert isinstance(done, RunFinished)
    slow = done.layers[0].outputs[1]
    assert not slow.ok and "did not answer within 0.3 s" in (slow.error or "")
    assert len(fake_groq.calls_to(QWEN)) == 2  # retried once
    await fake_groq.wait_for(lambda f: not f.running, timeout=2)  # the abandoned calls were dropped


async def test_the_run_deadline_ends_the_stream(fake_groq: FakeGroq) -> None:
    engine = make_engine(fake_groq, call_timeout_s=10, deadline_s=0.5)
    fake_groq.latency = 5
    failed = final(await collect(engine, "q", make_config(layers=2)))
    await engine.providers.aclose()
    assert isinstance(failed, RunFailed) and failed.kind == "deadline"


# ---- cancellation ------------------------------------------------------------------------------------
async def test_cancelling_the_consumer_cancels_the_calls(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.latency = 10
    seen: list[MoaEvent] = []

    async def consume() -> None:
        async for event in engine.run("q", make_config(layers=2)):
            seen.append(event)

    task = asyncio.create_task(consume())
    await fake_groq.wait_for(lambda f: len(f.running) == 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fake_groq.wait_for(lambda f: not f.running, timeout=2)
    assert all(c.cancelled for c in fake_groq.calls)
    assert [e.type for e in seen] == ["layer_started"]


async def test_closing_the_iterator_cancels_the_aggregator_stream(fake_groq: FakeGroq,
                                                                 engine: MoaEngine) -> None:
    # Qwen's reasoning is hidden, so its first content pieces come at once and the rest over 10 s.
    fake_groq.latency_by_model[QWEN] = 10
    fake_groq.first_chunk_fraction = 0.0
    events = engine.run("q", make_config((FAST,), layers=1, main=QWEN))
    async for event in events:
        if isinstance(event, AggregatorDelta):
            break
    await events.aclose()  # type: ignore[attr-defined]
    await fake_groq.wait_for(lambda f: not f.running, timeout=2)
    aggregator = next(c for c in fake_groq.calls if c.stream)
    assert aggregator.cancelled


# ---- configs and providers ---------------------------------------------------------------------------
SEED = """{
  "layer_agent_1": {"system_prompt": "Think through your response step by step. {helper_response}",
                    "model_name": "llama-3.1-8b-instant"},
  "layer_agent_2": {"system_prompt":
                      "Respond with a thought and then your response to the question. {helper_response}",
                    "model_name": "gemma2-9b-it", "temperature": 0.7},
  "layer_agent_3": {"system_prompt": "You are an expert at logic and reasoning. Always take a logical approach \
to the answer. {helper_response}", "model_name": "llama-3.1-8b-instant"}
}"""


async def test_the_seed_articles_config_runs(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.models += ["llama-3.1-8b-instant", "gemma2-9b-it"]
    fake_groq.decommissioned.add("gemma2-9b-it")  # long gone from Groq
    config = parse_config(SEED)
    done = final(await collect(engine, "9.11 和 9.9 哪个大?", config))
    assert isinstance(done, RunFinished)
    assert done.layers[0].outputs[0].text == "llama-3.1-8b-instant says: 9.11 和 9.9 哪个大? [saw 0 answers]"
    gemma = done.layers[0].outputs[1]
    assert not gemma.ok and "gemma2-9b-it" in (gemma.error or "") and "decommissioned" in (gemma.error or "")
    first = fake_groq.calls[0]
    assert first.system == "Think through your response step by step."
    assert done.answer.endswith("[saw 2 answers]")


async def test_mixed_groq_and_openai_compatible_config(fake_groq: FakeGroq) -> None:
    async with FakeGroq(models=["llama3.2:3b", "qwen3:8b"]) as ollama:
        ollama.think_in_content.add("qwen3:8b")
        engine = make_engine(fake_groq, env={"MOA_PROVIDERS": f"ollama={ollama.openai_base_url}"})
        config = make_config((FAST, "ollama:llama3.2:3b", "ollama:qwen3:8b"), layers=2, main="ollama:qwen3:8b")
        done = final(await collect(engine, "Mixed?", config))
        assert isinstance(done, RunFinished)
        assert [o.text for o in done.layers[1].outputs] == [
            f"{FAST} says: Mixed? [saw 3 answers]", "llama3.2:3b says: Mixed? [saw 3 answers]",
            "qwen3:8b says: Mixed? [saw 3 answers]"]
        assert done.answer == "qwen3:8b says: Mixed? [saw 3 answers]"
        assert {c.model for c in fake_groq.calls} == {FAST}
        assert all(c.path == "/v1/chat/completions" for c in ollama.calls)
        assert all("authorization" not in c.headers for c in ollama.calls)  # no key declared
        assert all("reasoning_format" not in c.body for c in ollama.calls)
        aggregator = next(c for c in ollama.calls if c.stream)
        assert aggregator.body["stream_options"] == {"include_usage": True}
        # local models cost nothing: the answer costs what its Groq calls cost
        groq_cost = sum(o.cost_usd or 0 for layer in done.layers for o in layer.outputs if o.model == FAST)
        assert done.usage.total_tokens > 0 and done.cost_usd == pytest.approx(groq_cost)
        live = await engine.providers.live_models()
        assert "ollama:llama3.2:3b" in live and FAST in live
        await engine.providers.aclose()


async def test_provider_key_is_sent(fake_groq: FakeGroq) -> None:
    async with FakeGroq(models=["m"]) as together:
        engine = make_engine(fake_groq, env={"MOA_PROVIDERS": f"together={together.openai_base_url}",
                                             "MOA_PROVIDER_TOGETHER_API_KEY": "tg-secret"})
        done = final(await collect(engine, "q", make_config(("together:m",), layers=1, main="together:m")))
        await engine.providers.aclose()
        assert isinstance(done, RunFinished)
        assert all(c.headers["authorization"] == "Bearer tg-secret" for c in together.calls)


async def test_an_unreachable_groq_is_said_once_not_once_per_agent(transport: str) -> None:
    async with FakeGroq() as fake:
        url = fake.base_url
    engine = make_engine(fake)  # the server is gone: every connection is refused
    try:
        failed = final(await collect(engine, "anyone there?", make_config(layers=1)))
    finally:
        await engine.providers.aclose()
    assert isinstance(failed, RunFailed) and failed.kind == "all_proposers_failed"
    assert failed.error.count(f"Could not connect to Groq at {url} (connection refused)") == 1
    assert "agent_1" not in failed.error  # one sentence, no list of agents


async def test_agents_failing_for_different_reasons_each_reason_is_said_once(fake_groq: FakeGroq,
                                                                           engine: MoaEngine) -> None:
    fake_groq.fail(FAST, 503, times=100)
    fake_groq.fail(QWEN, 401, times=100)
    failed = final(await collect(engine, "q", make_config(layers=1)))
    assert isinstance(failed, RunFailed)
    reasons = failed.error.split(" — ", 1)[1]
    assert reasons.count("503") == 1 and reasons.count("401") == 1
    assert reasons.startswith("agent_1, agent_3: ")
