"""Early answer through the real groq SDK against the fake: the answer's opening streams while the later
layers run, the final answer carries the last layer's content, and a provider that cannot continue a
partial answer gets today's order, said once in the log."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from moa.calls.providers import ProviderRegistry, RetryPolicy
from moa.config.schema import AgentConfig, MoaConfig
from moa.events import AggregatorDelta, AggregatorStarted, LayerStarted, MoaEvent, ProposerFinished, RunFinished
from moa.run.early_answer import OPENING_WORDS, Opening
from moa.run.engine import MoaEngine
from tests.fakes.groq_server import FakeCall, FakeGroq

FAST, STRONG, QWEN = "openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3.8-27b"


def council(main: str = STRONG, *, early_answer: bool = True) -> MoaConfig:
    agents = {f"agent_{i}": AgentConfig(model_name=m, system_prompt=f"You are agent {i}. {{helper_response}}")
              for i, m in enumerate((FAST, QWEN, FAST), start=1)}
    return MoaConfig(main_model=main, layers=3, layer_agent_config=agents, early_answer=early_answer)


def _layers_seen(call: FakeCall) -> list[int]:
    return sorted({int(n) for n in re.findall(r"Layer-(\d) view", call.system)})


def reply(call: FakeCall) -> str:
    """Proposers say which layer they answer in; the aggregator names the layers whose answers it saw."""
    if call.model in (FAST, QWEN, "m-local-proposer"):
        layer = max(_layers_seen(call), default=0) + 1
        return f"Layer-{layer} view of {call.system[:16]}"
    return "Here is the verdict. It rests on " + ", ".join(f"layer {n}" for n in _layers_seen(call))


def make_engine(fake: FakeGroq, env: dict[str, str] | None = None) -> MoaEngine:
    registry = ProviderRegistry.from_env(
        {"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url, **(env or {})}, call_timeout_s=10.0,
        deadline_s=30.0, retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.02))
    return MoaEngine(registry, call_timeout_s=10.0, deadline_s=30.0)


async def answer(engine: MoaEngine, config: MoaConfig) -> list[MoaEvent]:
    async def run() -> list[MoaEvent]:
        return [e async for e in engine.run("Which is larger, 9.11 or 9.9?", config)]
    return await asyncio.wait_for(run(), 20)


@pytest.fixture
def slow_proposers(fake_groq: FakeGroq) -> FakeGroq:
    fake_groq.reply = reply
    fake_groq.latency_by_model = {FAST: 0.2, QWEN: 0.2, STRONG: 0.05}
    return fake_groq


async def test_the_opening_streams_during_the_later_layers_and_the_answer_carries_the_last_layer(
        slow_proposers: FakeGroq) -> None:
    fake = slow_proposers
    engine = make_engine(fake)
    events = await answer(engine, council())
    await engine.providers.aclose()
    done = events[-1]
    assert isinstance(done, RunFinished)
    assert done.answer == "Here is the verdict. It rests on layer 3"
    # the opening came while layer 3 was still answering
    first_word = next(i for i, e in enumerate(events) if isinstance(e, AggregatorDelta))
    last_answer = max(i for i, e in enumerate(events) if isinstance(e, ProposerFinished))
    assert first_word < last_answer
    assert [e.layer for e in events if isinstance(e, LayerStarted)] == [1, 2, 3]
    assert sum(isinstance(e, AggregatorStarted) for e in events) == 1
    streamed = "".join(e.text for e in events if isinstance(e, AggregatorDelta))
    assert streamed == done.answer  # what people saw is the answer, nothing said twice
    opening, rest = fake.calls_to(STRONG)
    assert _layers_seen(opening) == [1] and 1 <= opening.seen_answers <= 3  # layer 1's, as far as written
    assert any(w.startswith("The opening words came early, from layer 1's answers") for w in done.warnings)
    assert _layers_seen(rest) == [3] and rest.messages[-1] == {"role": "assistant",
                                                               "content": "Here is the verdict."}
    layer_3 = [c for c in fake.calls if c.model != STRONG and _layers_seen(c) == [2]]
    assert len(layer_3) == 3 and opening.started < min(c.ended or 0 for c in layer_3)
    assert done.timings.first_token_s is not None and done.timings.first_token_s < done.timings.total_s
    # the stopped opening call still counts: the answer's tokens are more than the layers' and the rest's
    layers = sum(o.usage.prompt_tokens for layer in done.layers for o in layer.outputs if o.usage)
    assert rest.usage is not None and done.usage.prompt_tokens - layers > rest.usage["prompt_tokens"]


async def test_the_opening_starts_from_layer_1_answers_still_being_written(fake_groq: FakeGroq) -> None:
    fake_groq.reply = lambda call: reply(call) + (" and it weighs the digits" * 6 if call.model != STRONG else "")
    fake_groq.stall({FAST, QWEN}, after_words=10)  # layer 1 stops mid-answer until the opening is out
    engine = make_engine(fake_groq)
    run = asyncio.create_task(answer(engine, council()))
    opening = await fake_groq.wait_for(lambda g: next((c for c in g.calls_to(STRONG) if c.ended), None), 10)
    assert all(c.ended is None for c in fake_groq.calls if c.model != STRONG)  # layer 1 is still writing
    seen = re.findall(r"^\d+\. (.*)$", opening.system, flags=re.MULTILINE)
    replies = [c.reply_text.split() for c in fake_groq.calls if c.model != STRONG]
    for shown in seen:  # each answer as far as it was written, in whole words
        assert shown.endswith(" […]")
        words = shown.removesuffix(" […]").split()
        assert any(written[:len(words)] == words for written in replies)
    assert seen
    fake_groq.unstall()
    events = await run
    await engine.providers.aclose()
    done = events[-1]
    assert isinstance(done, RunFinished) and done.answer == "Here is the verdict. It rests on layer 3"
    assert "".join(e.text for e in events if isinstance(e, AggregatorDelta)) == done.answer
    assert "The opening words came early, from layer 1's answers while they were still being written; the " \
        "rest reflects layer 3's answers." in done.warnings
    assert not any(o.cut for layer in done.layers for o in layer.outputs)


async def test_without_early_answer_the_aggregator_starts_after_the_last_layer(slow_proposers: FakeGroq) -> None:
    engine = make_engine(slow_proposers)
    events = await answer(engine, council(early_answer=False))
    await engine.providers.aclose()
    first_word = next(i for i, e in enumerate(events) if isinstance(e, AggregatorDelta))
    last_answer = max(i for i, e in enumerate(events) if isinstance(e, ProposerFinished))
    assert first_word > last_answer
    [only] = slow_proposers.calls_to(STRONG)
    assert _layers_seen(only) == [3]


async def test_a_provider_that_cannot_continue_gets_todays_order_said_once(
        slow_proposers: FakeGroq, caplog: pytest.LogCaptureFixture) -> None:
    async with FakeGroq(models=["big"]) as local:
        local.reply = reply
        engine = make_engine(slow_proposers, env={"MOA_PROVIDERS": f"local={local.openai_base_url}"})
        caplog.set_level(logging.INFO, logger="moa.run.early_answer")
        for _ in range(2):
            events = await answer(engine, council(main="local:big"))
            done = events[-1]
            assert isinstance(done, RunFinished) and done.answer == "Here is the verdict. It rests on layer 3"
            first_word = next(i for i, e in enumerate(events) if isinstance(e, AggregatorDelta))
            assert first_word > max(i for i, e in enumerate(events) if isinstance(e, ProposerFinished))
        await engine.providers.aclose()
        assert len(local.calls) == 2  # one aggregator call per answer, after the last layer
    told = [r for r in caplog.records if "cannot be relied on to continue" in r.getMessage()]
    assert len(told) == 1 and "local" in told[0].getMessage()


def test_the_opening_is_whole_words_up_to_the_first_sentence_and_never_splits_a_number() -> None:
    opening = Opening()
    taken = [opening.take(p) for p in ["Comp", "are 9", ".", "9 and 9", ".11 first. Th", "en more."]]
    assert "".join(taken) == opening.text == "Compare 9.9 and 9.11 first."
    assert opening.done and opening.take(" more") == ""
    long = Opening()
    long.take(" ".join(["word"] * 40) + " ")
    assert long.done and len(long.text.split()) == OPENING_WORDS


async def test_with_both_switches_agreeing_agents_stop_after_layer_1_without_an_opening_call(
        fake_groq: FakeGroq) -> None:
    fake_groq.reply = lambda call: "The answer is 9.9." if call.model != STRONG else "9.9 is larger."
    engine = make_engine(fake_groq)
    both = council().model_copy(update={"early_exit": True})
    done = (await answer(engine, both))[-1]
    await engine.providers.aclose()
    assert isinstance(done, RunFinished) and done.answer == "9.9 is larger."
    assert len(fake_groq.calls) == 4 and len(fake_groq.calls_to(STRONG)) == 1
