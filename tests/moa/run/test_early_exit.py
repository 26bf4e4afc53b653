"""Early exit through the real groq SDK against the fake: agreeing agents stop after a layer and the
answer says so; disagreeing ones get every layer and nothing claims agreement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from moa.calls.providers import ProviderRegistry, RetryPolicy
from moa.config.schema import AgentConfig, MoaConfig
from moa.events import LayerStarted, MoaEvent, RunFinished
from moa.run.engine import MoaEngine
from tests.fakes.groq_server import FakeCall, FakeGroq

FAST, STRONG, QWEN = "openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3.8-27b"


def council(*, early_exit: bool, layers: int = 3) -> MoaConfig:
    agents = {f"agent_{i}": AgentConfig(model_name=m, system_prompt=f"You are agent {i}. {{helper_response}}")
              for i, m in enumerate((FAST, QWEN, FAST), start=1)}
    return MoaConfig(main_model=STRONG, layers=layers, layer_agent_config=agents, early_exit=early_exit)


def agreeing(call: FakeCall) -> str:
    return "The larger number is 9.9." if call.model != STRONG else "Final: 9.9 is larger."


def disagreeing(call: FakeCall) -> str:
    """Each agent says something of its own, different again in every layer."""
    agent = int(call.system.split("agent ")[1][0]) if "agent " in call.system else 0
    views = ["Rivers run to the sea.", "Compare the tenths first, then the rest.", "Mountains hold the snow.",
             "It depends on the notation used.", "Stars burn for billions of years.", "Version numbers differ."]
    return views[(agent + 2 * call.seen_answers) % len(views)]


@pytest.fixture
async def engine(fake_groq: FakeGroq) -> AsyncIterator[MoaEngine]:
    registry = ProviderRegistry.from_env({"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake_groq.base_url},
                                         call_timeout_s=10.0, deadline_s=30.0,
                                         retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.02))
    eng = MoaEngine(registry, call_timeout_s=10.0, deadline_s=30.0)
    yield eng
    await registry.aclose()


async def answer(engine: MoaEngine, config: MoaConfig) -> list[MoaEvent]:
    async def run() -> list[MoaEvent]:
        return [e async for e in engine.run("Which is larger, 9.11 or 9.9?", config)]
    return await asyncio.wait_for(run(), 20)


async def test_agreeing_agents_stop_after_the_first_layer_and_the_answer_says_so(
        fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.reply = agreeing
    events = await answer(engine, council(early_exit=True))
    done = events[-1]
    assert isinstance(done, RunFinished)
    assert [e.layer for e in events if isinstance(e, LayerStarted)] == [1]
    assert len(fake_groq.calls) == 4  # layer 1's three agents and the aggregator
    assert fake_groq.calls[-1].model == STRONG and fake_groq.calls[-1].seen_answers == 3
    assert done.skipped == "layers 2–3 skipped: 3 of 3 agents agreed"
    assert done.agreement == "3 of 3 agents agreed"
    assert done.verdict == done.skipped
    assert done.answer == "Final: 9.9 is larger."


async def test_agreeing_agents_run_every_layer_without_early_exit_but_agreement_is_said(
        fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.reply = agreeing
    done = (await answer(engine, council(early_exit=False)))[-1]
    assert isinstance(done, RunFinished)
    assert len(fake_groq.calls) == 10 and len(done.layers) == 3
    assert done.skipped is None and done.verdict == "3 of 3 agents agreed"


async def test_disagreeing_agents_get_every_layer_and_nothing_claims_agreement(
        fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.reply = disagreeing
    events = await answer(engine, council(early_exit=True))
    done = events[-1]
    assert isinstance(done, RunFinished)
    assert [e.layer for e in events if isinstance(e, LayerStarted)] == [1, 2, 3]
    assert len(fake_groq.calls) == 10
    assert done.agreement is None and done.skipped is None and done.verdict is None


async def test_agents_stating_one_final_answer_in_their_own_words_stop_early(
        fake_groq: FakeGroq, engine: MoaEngine) -> None:
    words = {FAST: "Compare tenths: 0.9 beats 0.11, so the answer is 9.9.", QWEN: "**Answer:** 9.9",
             STRONG: "9.9 is larger."}
    fake_groq.reply = lambda call: words[call.model]
    done = (await answer(engine, council(early_exit=True)))[-1]
    assert isinstance(done, RunFinished)
    assert len(fake_groq.calls) == 4 and done.skipped == "layers 2–3 skipped: 3 of 3 agents agreed"


async def test_a_failed_agent_is_doubt_and_every_layer_runs(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.reply = agreeing
    fake_groq.fail(QWEN, 400)  # not retried: agent_2 fails in layer 1
    events = await answer(engine, council(early_exit=True, layers=2))
    done = events[-1]
    assert isinstance(done, RunFinished)
    assert [e.layer for e in events if isinstance(e, LayerStarted)] == [1, 2] and done.skipped is None


async def test_a_quorum_lets_the_agents_that_answered_stop_early(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    fake_groq.reply = agreeing
    fake_groq.fail(QWEN, 400)
    engine.quorum = 2
    done = (await answer(engine, council(early_exit=True, layers=2)))[-1]
    assert isinstance(done, RunFinished)
    assert done.skipped == "layer 2 skipped: 2 of 3 agents agreed"


async def test_a_majority_is_not_agreement_and_every_layer_runs(fake_groq: FakeGroq, engine: MoaEngine) -> None:
    words = {FAST: "9.9 is larger than 9.11.", QWEN: "9.11 is larger than 9.9.", STRONG: "9.9 is larger."}
    fake_groq.reply = lambda call: words[call.model]
    engine.quorum = 2
    events = await answer(engine, council(early_exit=True))
    done = events[-1]
    assert isinstance(done, RunFinished)
    assert [e.layer for e in events if isinstance(e, LayerStarted)] == [1, 2, 3] and done.skipped is None
    assert done.agreement == "agents split 2–1 (9.9 > 9.11 / 9.11 > 9.9)"


async def test_agents_that_contradict_in_similar_words_get_every_layer(fake_groq: FakeGroq,
                                                                       engine: MoaEngine) -> None:
    """The issue's false agreement: same words, opposite conclusions — once skipped layers 2–3."""
    words = {FAST: "Comparing them, 9.11 is larger than 9.9.", QWEN: "Comparing them, 9.11 is smaller than 9.9.",
             STRONG: "9.9 is larger."}
    fake_groq.reply = lambda call: words[call.model]
    done = (await answer(engine, council(early_exit=True)))[-1]
    assert isinstance(done, RunFinished)
    assert len(fake_groq.calls) == 10 and done.skipped is None
    assert done.agreement is not None and done.agreement.startswith("agents split")
