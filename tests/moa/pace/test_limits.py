"""Answers within Groq's real limits: the engine and the real groq SDK against the fake Groq's windows,
headers and bodies — pacing, first come first served, trimming, quorum, hedging and shared keys."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from moa.calls.providers import ProviderRegistry, RetryPolicy
from moa.config.schema import AgentConfig, MoaConfig
from moa.events import BudgetWaiting, MoaEvent, RunFailed, RunFinished, Turn
from moa.run.engine import MoaEngine
from tests.fakes.groq_server import FakeGroq

FAST, STRONG, QWEN = "openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3.8-27b"
QUICK_RETRY = RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05)


def small_config(models: Sequence[str] = (FAST, FAST), *, layers: int = 2, max_tokens: int = 400) -> MoaConfig:
    agents = {f"agent_{i}": AgentConfig(model_name=m, max_tokens=max_tokens,
                                        system_prompt=f"You are agent {i}. {{helper_response}}")
              for i, m in enumerate(models, start=1)}
    return MoaConfig(main_model=STRONG, layers=layers, layer_agent_config=agents, max_tokens=max_tokens)


def make_engine(fake: FakeGroq, *, env: dict[str, str] | None = None, retry: RetryPolicy = QUICK_RETRY,
                **options: object) -> MoaEngine:
    registry = ProviderRegistry.from_env({"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url,
                                          **(env or {})}, call_timeout_s=10, deadline_s=60, retry=retry)
    return MoaEngine(registry, call_timeout_s=10, deadline_s=60, **options)  # type: ignore[arg-type]


@pytest.fixture
async def fake() -> AsyncIterator[FakeGroq]:
    async with FakeGroq(latency=0.05) as server:
        yield server


async def collect(engine: MoaEngine, question: str, config: MoaConfig,
                  history: Sequence[Turn] = ()) -> list[MoaEvent]:
    return [event async for event in engine.run(question, config, history)]


def final(events: list[MoaEvent]) -> RunFinished:
    last = events[-1]
    assert isinstance(last, RunFinished), last
    return last


# ---- pacing ------------------------------------------------------------------------------------------
async def test_calls_wait_for_the_token_budget_instead_of_bouncing(fake: FakeGroq) -> None:
    fake.limit("*", tpm=2400, window_s=2.0)
    engine = make_engine(fake)
    runs = await asyncio.gather(*(collect(engine, f"question {i}", small_config()) for i in range(4)))
    await engine.providers.aclose()
    assert all(isinstance(events[-1], RunFinished) for events in runs)  # nothing lost
    limited = [c for c in fake.calls if c.status == 429]
    assert len(limited) <= 0.1 * len(fake.calls)
    assert not [c for c in fake.calls if c.status == 413]


async def test_a_wait_for_the_budget_is_told_with_the_model_and_seconds(fake: FakeGroq) -> None:
    fake.limit("*", tpm=2400, window_s=3.0)
    engine = make_engine(fake)
    runs = await asyncio.gather(*(collect(engine, f"question {i}", small_config()) for i in range(3)))
    await engine.providers.aclose()
    waits = [e for events in runs for e in events if isinstance(e, BudgetWaiting)]
    told = [w for w in waits if w.wait_s > 0]
    assert told and all(w.model in (FAST, STRONG) and w.provider == "groq" and w.wait_s >= 1 for w in told)
    assert told[0].resource == "tokens"
    for events in runs:  # every wait that was told is also told over, before the answer
        per_model: dict[str, float] = {}
        for event in events:
            if isinstance(event, BudgetWaiting):
                per_model[event.model] = event.wait_s
        assert all(left == 0 for left in per_model.values())


async def test_declared_request_limits_pace_a_provider_that_sends_no_headers(fake: FakeGroq) -> None:
    fake.limit(FAST, rpm=3, window_s=1.5)  # the fake refuses the 4th call in a window; we declare it
    engine = make_engine(fake, env={"MOA_LIMITS": f"{FAST}=3rpm"})
    # Declared limits are per minute; the fake's "minute" is shorter, so pacing is only slower than needed.
    budget = engine.providers.pacer.budget(FAST, "groq")
    assert budget.rpm == 3
    events = await collect(engine, "q", small_config((FAST, FAST), layers=1))
    await engine.providers.aclose()
    assert isinstance(events[-1], RunFinished)
    assert not [c for c in fake.calls if c.status == 429]


async def test_answers_competing_for_one_budget_finish_in_arrival_order(fake: FakeGroq) -> None:
    fake.limit("*", tpm=2400, window_s=2.0)
    engine = make_engine(fake)
    finished: list[int] = []
    first_wait: dict[int, float] = {}  # the first wait each answer is told (0: it never waited)

    async def answer(i: int) -> None:
        events = await collect(engine, f"question {i}", small_config())
        assert isinstance(events[-1], RunFinished)
        finished.append(i)
        first_wait[i] = next((e.wait_s for e in events if isinstance(e, BudgetWaiting)), 0.0)

    # Each run takes its place in line when it starts, in this order.
    await asyncio.gather(*(answer(i) for i in range(4)))
    await engine.providers.aclose()
    assert finished == [0, 1, 2, 3]
    # the later in line, the longer it is told to wait: the budget serves them one after another
    assert first_wait[0] < first_wait[1] < first_wait[2] < first_wait[3]


async def test_a_refused_call_keeps_its_place_in_line_while_it_waits_to_try_again(fake: FakeGroq) -> None:
    # One call fits the window at a time. The earlier answer's call is refused (a 429 without a wait, so
    # it backs off); the later answer's call, waiting behind it, must not take the room meanwhile.
    fake.limit(FAST, tpm=700, window_s=1.0)
    engine = make_engine(fake)
    config = small_config((FAST,), layers=1, max_tokens=300)
    await collect(engine, "warm-up: the limits are learnt", config)
    fake.fail(FAST, 429)
    finished: list[str] = []

    async def answer(name: str) -> None:
        assert isinstance((await collect(engine, f"question {name}", config))[-1], RunFinished)
        finished.append(name)

    await asyncio.gather(answer("earlier"), answer("later"))
    await engine.providers.aclose()
    assert [c.status for c in fake.calls_to(FAST)][1:3] == [429, 200]
    assert finished == ["earlier", "later"]


# ---- never a 413 dead end ----------------------------------------------------------------------------
async def test_a_call_larger_than_the_declared_limit_is_trimmed_and_the_answer_says_so(fake: FakeGroq) -> None:
    fake.limit(FAST, tpm=700)
    engine = make_engine(fake, env={"MOA_LIMITS": f"{FAST}=700tpm"})
    events = await collect(engine, "q", small_config((FAST, QWEN), layers=1, max_tokens=1024))
    await engine.providers.aclose()
    done = final(events)
    assert not [c for c in fake.calls if c.status == 413]
    sent = fake.calls_to(FAST)[0]
    assert sent.max_tokens is not None and sent.max_tokens < 1024 and (sent.requested_tokens or 0) <= 700
    assert any("agent_1" in w and "700 tokens-per-minute" in w and "max_tokens lowered from 1,024" in w
               for w in done.warnings)


async def test_a_413_teaches_the_limit_and_the_call_is_trimmed_and_sent_again(fake: FakeGroq) -> None:
    fake.limit(FAST, tpm=700, window_s=1.0)
    engine = make_engine(fake)
    done = final(await collect(engine, "q", small_config((FAST, QWEN), layers=2, max_tokens=1024)))
    await engine.providers.aclose()
    statuses = [c.status for c in fake.calls_to(FAST)]
    assert statuses.count(413) == 1 and statuses.count(200) == 2  # only the first call ever bounced
    assert done.layers[0].outputs[0].ok and done.layers[1].outputs[0].ok
    assert any("700 tokens-per-minute" in w for w in done.warnings)


async def test_history_is_trimmed_when_max_tokens_alone_cannot_make_a_call_fit(fake: FakeGroq) -> None:
    fake.limit(FAST, tpm=1200)
    engine = make_engine(fake, env={"MOA_LIMITS": f"{FAST}=1200tpm"})
    history = [Turn("user" if i % 2 == 0 else "assistant", f"message {i}: " + "many words here " * 60)
               for i in range(8)]
    done = final(await collect(engine, "the latest question", small_config((FAST, QWEN), layers=1,
                                                                           max_tokens=512), history))
    await engine.providers.aclose()
    assert not [c for c in fake.calls if c.status == 413]
    fast, qwen = fake.calls_to(FAST)[0], fake.calls_to(QWEN)[0]
    assert fast.question == "the latest question"
    assert len(fast.messages) < len(qwen.messages)  # the oldest turns left out for FAST only
    assert fast.messages[-2]["content"] == qwen.messages[-2]["content"]  # the newest turn kept
    assert any("oldest" in w and "history messages left out" in w for w in done.warnings)


# ---- stragglers, hedging and faults ------------------------------------------------------------------
async def test_a_layer_leaves_a_straggler_out_once_the_quorum_answered(fake: FakeGroq) -> None:
    fake.delay(QWEN, 30)
    engine = make_engine(fake)
    done = final(await collect(engine, "q", small_config((FAST, QWEN, FAST), layers=1)))
    await engine.providers.aclose()
    left = done.layers[0].outputs[1]
    assert left.left_out and not left.ok
    assert left.error is not None and left.error.startswith(f"left out: {QWEN} had not answered after")
    assert any("left out of layer 1" in w and QWEN in w for w in done.warnings)
    assert len(fake.calls_to(QWEN)) == 1  # the quorum was met: no hedge
    aggregator = fake.calls_to(STRONG)[0]
    assert aggregator.started < fake.calls_to(QWEN)[0].started + 30  # nobody waited for it
    await fake.wait_for(lambda f: not f.running, timeout=5)  # the straggler's call was dropped


async def test_a_quorum_of_all_waits_for_every_agent(fake: FakeGroq) -> None:
    fake.delay(QWEN, 0.6)
    engine = make_engine(fake, quorum=3, hedge=False)
    done = final(await collect(engine, "q", small_config((FAST, QWEN, FAST), layers=1)))
    await engine.providers.aclose()
    assert all(o.ok for o in done.layers[0].outputs)


async def test_a_lagging_call_is_hedged_and_the_first_answer_wins(fake: FakeGroq) -> None:
    fake.delay(QWEN, 30)  # only the first call to QWEN lags
    engine = make_engine(fake, quorum=2)
    done = final(await collect(engine, "q", small_config((FAST, QWEN), layers=1)))
    await engine.providers.aclose()
    first, hedge = fake.calls_to(QWEN)
    assert done.layers[0].outputs[1].ok and done.layers[0].outputs[1].text.startswith(QWEN)
    assert hedge.started < first.started + 30 and hedge.status == 200
    await fake.wait_for(lambda f: first.cancelled, timeout=5)  # the lagging call was dropped


async def test_a_failing_proposer_does_not_hold_the_layer_through_long_backoffs(fake: FakeGroq) -> None:
    fake.fail(QWEN, 500, times=10)
    engine = make_engine(fake, retry=RetryPolicy(max_attempts=4, backoff_base_s=5.0))
    done = final(await collect(engine, "q", small_config((FAST, QWEN, FAST), layers=1)))
    await engine.providers.aclose()
    assert done.layers[0].outputs[1].left_out
    assert len(fake.calls_to(QWEN)) == 1  # left out during its first 5 s backoff
    assert done.answer.startswith(STRONG)


# ---- several processes, one key ----------------------------------------------------------------------
async def test_two_processes_sharing_a_key_learn_each_others_use_from_the_headers(fake: FakeGroq) -> None:
    fake.limit("*", tpm=2400, window_s=2.0)
    first, second = make_engine(fake), make_engine(fake)  # two pacers, as in two processes
    for engine in (first, second):  # each has answered before, so each knows the limits
        final(await collect(engine, "warm up", small_config()))
    fake.calls.clear()
    runs = await asyncio.gather(*(collect(engine, f"q{i}", small_config())
                                  for i, engine in enumerate([first, second, first, second, first, second])))
    await first.providers.aclose()
    await second.providers.aclose()
    assert all(isinstance(events[-1], RunFinished) for events in runs)
    limited = [c for c in fake.calls if c.status == 429]
    # Without trusting the headers each process spends the whole budget: about half the calls bounce.
    assert len(limited) <= 0.2 * len(fake.calls)


async def test_a_run_that_cannot_get_its_budget_before_the_deadline_says_so(fake: FakeGroq) -> None:
    fake.limit(FAST, tpm=1000, window_s=60)
    registry = ProviderRegistry.from_env({"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url,
                                          "MOA_LIMITS": f"{FAST}=1000tpm"}, retry=QUICK_RETRY)
    engine = MoaEngine(registry, call_timeout_s=5, deadline_s=1.5)
    events = await collect(engine, "q", small_config((FAST, FAST, FAST), layers=1, max_tokens=400))
    await registry.aclose()
    last = events[-1]
    assert isinstance(last, RunFinished | RunFailed)
    outputs = last.layers[0].outputs
    waited = [o for o in outputs if not o.ok]
    assert waited and all("rate limit" in (o.error or "") or "left out" in (o.error or "") for o in waited)
