"""Calls reserve what they are likely to write (learned per model and role), through the real groq SDK
against a fake Groq that cuts replies at max_tokens — and no final answer is cut by a smaller reservation."""

from __future__ import annotations

from moa.config.schema import AgentConfig, MoaConfig
from moa.events import AggregatorStarted, ProposerFinished
from moa.plan.reserve import WARM_UP_CALLS, Reservations
from tests.fakes.groq_server import FakeCall, FakeGroq, default_reply
from tests.moa.pace.test_limits import FAST, STRONG, collect, fake, final, make_engine

__all__ = ["fake"]

CONFIGURED = 1024


def _config(max_tokens: int = CONFIGURED) -> MoaConfig:
    agents = {f"agent_{i}": AgentConfig(model_name=FAST, max_tokens=max_tokens,
                                        system_prompt=f"You are agent {i}. {{helper_response}}") for i in (1, 2)}
    return MoaConfig(main_model=STRONG, layers=1, layer_agent_config=agents, max_tokens=max_tokens)


def _words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


async def test_reservations_shrink_after_warm_up_within_the_configs_max_tokens(fake: FakeGroq) -> None:
    fake.cut_at_max_tokens = True
    fake.reply = lambda call: default_reply(call) + " " + _words(140)  # ~150-token answers
    engine = make_engine(fake)
    for n in range(WARM_UP_CALLS + 1):
        final(await collect(engine, f"question {n}", _config()))
    await engine.providers.aclose()
    proposer_calls = [c for c in fake.calls if c.model == FAST]
    assert {c.max_tokens for c in proposer_calls[:2 * (WARM_UP_CALLS // 2)]} == {CONFIGURED}  # warming up
    last = proposer_calls[-2:]
    assert all(c.max_tokens is not None and 150 < c.max_tokens < CONFIGURED / 2 for c in last), \
        [c.max_tokens for c in last]
    assert all(c.finish_reason == "stop" for c in fake.calls)  # nothing was cut on the way


async def test_a_final_answer_longer_than_its_reservation_is_asked_again_in_full(fake: FakeGroq) -> None:
    fake.cut_at_max_tokens = True
    long_answer = {"now": False}

    def reply(call: FakeCall) -> str:
        if call.model == STRONG and long_answer["now"]:
            return default_reply(call) + " " + _words(700)  # far more than the learned reservation
        return default_reply(call) + " " + _words(100)

    fake.reply = reply
    engine = make_engine(fake)
    for n in range(WARM_UP_CALLS):
        final(await collect(engine, f"warm-up {n}", _config()))
    long_answer["now"] = True
    before = len(fake.calls)
    events = await collect(engine, "now a long one", _config())
    await engine.providers.aclose()
    done = final(events)

    aggregator_calls = [c for c in fake.calls[before:] if c.model == STRONG]
    assert [c.finish_reason for c in aggregator_calls] == ["length", "stop"]
    first, second = aggregator_calls
    assert first.max_tokens is not None and first.max_tokens < CONFIGURED and second.max_tokens == CONFIGURED
    assert done.answer == second.reply_text  # all of it, not the cut first try
    assert not any("max_tokens" in w for w in done.warnings)  # not cut: the answer does not say so
    assert [e.restarted for e in events if isinstance(e, AggregatorStarted)] == [False, True]
    assert done.usage.completion_tokens >= first.usage["completion_tokens"] + second.usage["completion_tokens"]  # type: ignore[index]


async def test_an_answer_is_said_to_be_cut_only_at_the_configs_own_limit(fake: FakeGroq) -> None:
    fake.cut_at_max_tokens = True
    fake.reply = lambda call: default_reply(call) + " " + _words(400)
    engine = make_engine(fake, reservations=Reservations())
    events = await collect(engine, "tell me everything", _config(max_tokens=300))
    await engine.providers.aclose()
    done = final(events)
    proposers = [e for e in events if isinstance(e, ProposerFinished)]
    assert proposers and all(p.cut for p in proposers)  # the layer view marks them
    assert [c.max_tokens for c in fake.calls] == [300, 300, 300]  # no smaller reservation was involved
    assert any("limit of 300 tokens (max_tokens)" in w for w in done.warnings)


def test_a_cut_call_grows_the_reservation_back_at_once() -> None:
    learned = Reservations(warm_up=2)
    for _ in range(4):
        learned.record(FAST, "proposer", 100, cut=False, configured=CONFIGURED)
    shrunk = learned.reserve(FAST, "proposer", CONFIGURED)
    assert shrunk < CONFIGURED
    learned.record(FAST, "proposer", shrunk, cut=True, configured=CONFIGURED)
    assert learned.reserve(FAST, "proposer", CONFIGURED) == CONFIGURED
    assert learned.reserve(FAST, "aggregator", 2048) == 2048  # each role learns on its own


def test_estimates_count_the_history_the_cached_share_and_what_calls_reserve() -> None:
    from moa.config.schema import preset
    from moa.events import Turn
    from moa.plan.demand import answer_demand

    article = preset("article").model_copy(update={"prompt_layout": "classic"})  # nothing expected cached
    history = [Turn("user", "Tell me about the harbour. " * 40, "ana"), Turn("assistant", "It is old. " * 60)]
    alone, threaded = answer_demand(article, "and the quay?"), answer_demand(article, "and the quay?", history)
    # every one of the ten calls carries the history
    assert sum(d.tokens for d in threaded.values()) - sum(d.tokens for d in alone.values()) > 10 * 300
    for layout in ("shared_prefix", "instruction_first"):
        cached = answer_demand(article.model_copy(update={"prompt_layout": layout}), "and the quay?", history)
        assert cached[FAST].cached > 4 * 300 and cached[FAST].tokens < threaded[FAST].tokens
        assert cached[FAST].tokens + cached[FAST].cached == threaded[FAST].tokens  # the same prompts, part cached
    learned = Reservations(warm_up=1)
    learned.record(FAST, "proposer", 100, cut=False, configured=CONFIGURED)
    reserved = answer_demand(article, "and the quay?", history, learned.reserve)
    assert reserved[FAST].tokens < threaded[FAST].tokens
    assert reserved[STRONG].tokens == threaded[STRONG].tokens  # the aggregator has not been learned yet
