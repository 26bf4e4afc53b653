"""What the engine's spans say when calls retry, fail, lag or are hedged, and when the early answer opens:
the real engine and groq SDK against the fake Groq, spans kept in memory by the SDK (the proof over OTLP/HTTP
is tests/bot/observe/test_traces.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from moa import trace
from moa.config.schema import AgentConfig, MoaConfig
from moa.events import RunFinished
from moa.run.engine import MoaEngine
from tests.fakes.groq_server import FakeGroq
from tests.moa.run.test_engine import FAST, QWEN, STRONG, collect, final, make_config, make_engine


class _Kept(SpanProcessor):
    """Keeps ended spans while a test asks for them."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.keeping = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.keeping:
            self.spans.append(span)


_KEPT = _Kept()


@pytest.fixture
def spans() -> Iterator[list[ReadableSpan]]:
    """The spans ended during the test (one SDK per test process: the API allows one global provider)."""
    if not isinstance(otel_trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(_KEPT)
        otel_trace.set_tracer_provider(provider)
    _KEPT.spans, _KEPT.keeping = [], True
    trace.configure(capture_content=False, redact=str)
    yield _KEPT.spans
    _KEPT.keeping = False


async def _answer(engine: MoaEngine, config: MoaConfig) -> RunFinished:
    root = trace.AnswerTrace.start(conversation="c1", run_key=None, question="q", attributes={})
    try:
        events = await collect(engine, "q", config)
        for event in events:
            root.see(event)
    finally:
        root.end()
    done = final(events)
    assert isinstance(done, RunFinished)
    return done


def _named(spans: Sequence[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def _attr(span: ReadableSpan, key: str) -> object:
    assert span.attributes is not None
    return span.attributes.get(key)


async def test_a_retried_call_says_why_and_a_failed_aggregator_names_its_error_and_the_fallback(
        fake_groq: FakeGroq, spans: list[ReadableSpan]) -> None:
    fake_groq.fail(FAST, 500, times=1)
    fake_groq.fail(STRONG, 503, times=10)
    engine = make_engine(fake_groq)
    done = await _answer(engine, make_config((FAST, QWEN), layers=1))
    await engine.providers.aclose()
    assert done.model == QWEN
    [retried] = [s for s in _named(spans, "chat ") if _attr(s, "gen_ai.request.model") == FAST]
    assert [(e.name, (e.attributes or {}).get("error.type")) for e in retried.events] == [("moa.retry", "500")]
    assert _attr(retried, "moa.attempts") == 2 and _attr(retried, "gen_ai.agent.name") == "agent_1"
    [aggregator] = [s for s in _named(spans, "chat ") if _attr(s, "moa.role") == "aggregator"]
    assert _attr(aggregator, "error.type") == "503" and not aggregator.status.is_ok
    [fallback] = [s for s in _named(spans, "chat ") if _attr(s, "moa.role") == "fallback"]
    assert _attr(fallback, "gen_ai.request.model") == QWEN and fallback.status.is_ok
    [root] = _named(spans, "invoke_agent moa")
    assert [e.name for e in root.events] == ["moa.fallback"]
    assert _attr(root, "moa.outcome") == "answered"
    # Failed calls are in the trace, and the tokens still add up to the answer's.
    chats = _named(spans, "chat ")
    assert sum(int(_attr(s, "gen_ai.usage.input_tokens") or 0) for s in chats) == done.usage.prompt_tokens
    assert sum(int(_attr(s, "gen_ai.usage.output_tokens") or 0) for s in chats) == done.usage.completion_tokens


async def test_a_straggler_left_out_is_an_event_of_its_layer_and_its_call_is_marked_cancelled(
        fake_groq: FakeGroq, spans: list[ReadableSpan]) -> None:
    fake_groq.delay(QWEN, 5.0)
    engine = make_engine(fake_groq, quorum=2, hedge=False)
    await _answer(engine, make_config((FAST, QWEN, FAST), layers=1))
    await engine.providers.aclose()
    [layer] = _named(spans, "layer 1")
    [left_out] = [e for e in layer.events if e.name == "moa.agent.left_out"]
    assert (left_out.attributes or {})["agent"] == "agent_2"
    [slow] = [s for s in _named(spans, "chat ") if _attr(s, "gen_ai.request.model") == QWEN]
    assert _attr(slow, "moa.cancelled") is True and slow.parent is not None
    assert slow.parent.span_id == layer.context.span_id


async def test_a_hedged_agent_has_two_calls_in_its_layer_the_second_marked_as_the_hedge(
        fake_groq: FakeGroq, spans: list[ReadableSpan]) -> None:
    fake_groq.delay(QWEN, 5.0)
    engine = make_engine(fake_groq, quorum=3)
    await _answer(engine, make_config((FAST, QWEN, FAST), layers=1))
    await engine.providers.aclose()
    [layer] = _named(spans, "layer 1")
    assert [(e.attributes or {}).get("agent") for e in layer.events if e.name == "moa.agent.hedged"] == ["agent_2"]
    calls = [s for s in _named(spans, "chat ") if _attr(s, "gen_ai.request.model") == QWEN]
    assert sorted(bool(_attr(s, "moa.hedge")) for s in calls) == [False, True]


async def test_the_early_answers_opening_is_its_own_call_and_the_answer_says_it_was_taken(
        fake_groq: FakeGroq, spans: list[ReadableSpan]) -> None:
    agents = {f"agent_{i}": AgentConfig(model_name=FAST, system_prompt=f"You are {i}. {{helper_response}}")
              for i in (1, 2)}
    config = MoaConfig(main_model=STRONG, layers=2, layer_agent_config=agents, early_answer=True)  # type: ignore[arg-type]
    fake_groq.reply = lambda call: "The answer is clear. " + "More words follow here. " * 10
    fake_groq.first_token_s, fake_groq.word_s = 0.05, 0.02  # the opening's call is stopped mid-stream
    fake_groq.delay(FAST, 0.0, times=2)
    fake_groq.delay(FAST, 1.0, times=2)  # layer 2 runs while the opening streams
    engine = make_engine(fake_groq)
    done = await _answer(engine, config)
    await engine.providers.aclose()
    [root] = _named(spans, "invoke_agent moa")
    assert _attr(root, "moa.early_answer.taken") is True
    # The opening's call is stopped once the opening is complete: no usage comes back, and the answer's
    # estimate of it is an event on the answer's span, so the tokens still add up.
    [opening] = [e.attributes or {} for e in root.events if e.name == "moa.opening.estimated_usage"]
    chats = _named(spans, "chat ")
    assert (sum(int(_attr(s, "gen_ai.usage.input_tokens") or 0) for s in chats) + int(opening["input_tokens"])
            == done.usage.prompt_tokens)
    assert (sum(int(_attr(s, "gen_ai.usage.output_tokens") or 0) for s in chats) + int(opening["output_tokens"])
            == done.usage.completion_tokens)
    roles = sorted(str(_attr(s, "moa.role")) for s in _named(spans, "chat ") if s.parent == root.context)
    assert roles == ["aggregator", "opening"]
    assert all(_attr(s, "gen_ai.conversation.id") == "c1" for s in _named(spans, "chat "))


async def test_a_wait_for_a_models_rate_limit_is_an_event_of_the_call_that_waited(
        fake_groq: FakeGroq, spans: list[ReadableSpan]) -> None:
    fake_groq.limit("*", tpm=2400, window_s=3.0)
    engine = make_engine(fake_groq)
    await asyncio.gather(*(_answer(engine, make_config((FAST, FAST), layers=1)) for _ in range(3)))
    await engine.providers.aclose()
    waited = [(s, e) for s in spans for e in s.events if e.name == "moa.rate_limit.wait"]
    assert waited and all(s.name.startswith("chat ") for s, _ in waited)
    assert all((e.attributes or {})["resource"] == "tokens" and float((e.attributes or {})["wait_s"]) >= 1
               for _, e in waited)
    assert len(_named(spans, "invoke_agent moa")) == 3  # each answer its own trace
    assert len({s.context.trace_id for s in spans}) == 3
