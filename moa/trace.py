"""Each answer as one OpenTelemetry trace, in the GenAI semantic conventions — through opentelemetry-api only.

The engine and the surfaces call these helpers; without an SDK configured (the app configures one from the
standard OTEL_* variables: bot/observe/traces.py) every span is the API's non-recording one and costs a few
microseconds. The shape of one answer:

    invoke_agent moa            the answer: platform, channel, config label, outcome, verdict, token sums
      layer 1 … layer N         one per proposer layer; left-out and hedged agents as events
        chat {model}            one per model call: gen_ai.* request, response and usage; retries and
                                rate-limit waits as events; a failure's error.type
      chat {model}              the aggregator (its fallback, the early answer's opening)
    feedback                    a later 👍/👎, a child of the answer's span (ids derived from the run)

Questions, answers and messages are recorded only with `configure(capture_content=True)`
(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true); every text recorded, errors included, passes the
`redact` the app configures.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

from moa.events import AggregatorStarted, LayerStarted, MoaEvent, ProposerFinished, RunFailed, RunFinished, Usage

_tracer = trace.get_tracer("moa")


@dataclass
class _Recording:
    capture_content: bool = False
    redact: Callable[[str], str] = str


_recording = _Recording()


def configure(*, capture_content: bool, redact: Callable[[str], str]) -> None:
    """Whether spans carry questions, answers and messages, and how every recorded text is cleaned."""
    _recording.capture_content = capture_content
    _recording.redact = redact


@dataclass(frozen=True)
class Step:
    """Who makes the model calls that follow in this task: a layer's agent, the aggregator, its fallback…"""

    role: str  # "proposer", "aggregator", "fallback" or "opening" (the early answer's)
    agent: str | None = None
    layer: int | None = None
    hedge: bool = False


_STEP: ContextVar[Step | None] = ContextVar("moa_trace_step", default=None)
_CONVERSATION: ContextVar[str | None] = ContextVar("moa_trace_conversation", default=None)
# The ids the answer's root span should get (see `run_ids`): read by the SDK's id generator the app installs.
_WANTED_IDS: ContextVar[tuple[int, int] | None] = ContextVar("moa_trace_wanted_ids", default=None)


def step(role: str, *, agent: str | None = None, layer: int | None = None, hedge: bool = False) -> None:
    """Name the caller of the next model calls in the current task (each agent's call runs in its own)."""
    _STEP.set(Step(role, agent, layer, hedge))


def wanted_ids() -> tuple[int, int] | None:
    """(trace id, span id) for the root span being started now, or None: random ids."""
    return _WANTED_IDS.get()


def run_ids(run_key: str) -> tuple[int, int]:
    """A trace id and root span id derived from a stored run, so a 👍/👎 days later finds the answer's trace
    without storing anything: the same key gives the same ids in any process."""
    digest = hashlib.sha256(f"moa-run:{run_key}".encode()).digest()
    trace_id = int.from_bytes(digest[:16], "big") or 1
    span_id = int.from_bytes(digest[16:24], "big") or 1
    return trace_id, span_id


def _text(value: str) -> str:
    return _recording.redact(value)


def _error_type(err: BaseException) -> str:
    status = getattr(err, "status", None)
    return str(status) if isinstance(status, int) else type(err).__name__


def _fail(span: Span, err: BaseException) -> None:
    span.set_attribute("error.type", _error_type(err))
    span.set_status(Status(StatusCode.ERROR, _text(str(err))[:500]))


def _messages_json(messages: Sequence[Mapping[str, Any]]) -> str:
    """Chat messages as the GenAI conventions' `gen_ai.input.messages` (images named, not inlined)."""
    out = []
    for message in messages:
        content = message.get("content")
        parts: list[dict[str, str]] = []
        if isinstance(content, str):
            parts.append({"type": "text", "content": _text(content)})
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") == "text":
                    parts.append({"type": "text", "content": _text(str(part.get("text", "")))})
                else:
                    parts.append({"type": "image"})
        out.append({"role": str(message.get("role", "")), "parts": parts})
    return json.dumps(out, ensure_ascii=False)


def _output_json(text: str, finish_reason: str | None) -> str:
    return json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": _text(text)}],
                        "finish_reason": finish_reason or "stop"}], ensure_ascii=False)


def _usage_attributes(usage: Usage) -> dict[str, AttributeValue]:
    return {"gen_ai.usage.input_tokens": usage.prompt_tokens,
            "gen_ai.usage.output_tokens": usage.completion_tokens,
            "gen_ai.usage.cache_read.input_tokens": usage.cached_tokens,
            "moa.usage.estimated": usage.estimated}


class ChatSpan:
    """The span of one model call; `done` records what came back."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def done(self, text: str, usage: Usage | None, finish_reason: str | None, attempts: int) -> None:
        span = self.span
        if not span.is_recording():
            return
        if usage is not None:
            span.set_attributes(_usage_attributes(usage))
        span.set_attribute("gen_ai.response.finish_reasons", [finish_reason or "stop"])
        span.set_attribute("moa.attempts", attempts)
        if _recording.capture_content:
            span.set_attribute("gen_ai.output.messages", _output_json(text, finish_reason))


@contextmanager
def chat(model: str, provider: str, messages: Sequence[Mapping[str, Any]], *, max_tokens: int | None,
         temperature: float | None) -> Iterator[ChatSpan]:
    """A `chat {model}` span around one model call (retries included) as the GenAI conventions name it."""
    wire_model = model.split(":", 1)[1] if model.startswith(f"{provider}:") else model
    span = _tracer.start_span(f"chat {wire_model}", kind=SpanKind.CLIENT)
    if span.is_recording():
        span.set_attributes(_chat_attributes(wire_model, provider, max_tokens, temperature))
        if _recording.capture_content:
            span.set_attribute("gen_ai.input.messages", _messages_json(messages))
    with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        try:
            yield ChatSpan(span)
        except asyncio.CancelledError:  # a straggler left out, a hedge that lost, an opening that is complete
            span.set_attribute("moa.cancelled", True)
            raise
        except BaseException as err:
            _fail(span, err)
            raise


def _chat_attributes(model: str, provider: str, max_tokens: int | None,
                     temperature: float | None) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                                             "gen_ai.request.model": model}
    if max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = max_tokens
    if temperature is not None:
        attributes["gen_ai.request.temperature"] = temperature
    if (conversation := _CONVERSATION.get()) is not None:
        attributes["gen_ai.conversation.id"] = conversation
    if (caller := _STEP.get()) is not None:
        attributes["moa.role"] = caller.role
        if caller.agent is not None:
            attributes["gen_ai.agent.name"] = caller.agent
        if caller.layer is not None:
            attributes["moa.layer"] = caller.layer
        if caller.hedge:
            attributes["moa.hedge"] = True
    return attributes


@contextmanager
def layer(number: int, total: int, agents: int) -> Iterator[None]:
    """The span of one proposer layer; the calls its agents make are its children."""
    span = _tracer.start_span(f"layer {number}", attributes={"moa.layer": number, "moa.layers": total,
                                                             "moa.layer.agents": agents})
    with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        yield


def event(name: str, **attributes: AttributeValue) -> None:
    """Something that happened to the current call or layer: a retry, a wait for a rate limit, a left-out agent."""
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(name, {k: _text(v) if isinstance(v, str) else v for k, v in attributes.items()})


def response_model(model: object) -> None:
    """The model the provider says answered (`gen_ai.response.model`), on the current call's span."""
    span = trace.get_current_span()
    if isinstance(model, str) and model and span.is_recording():
        span.set_attribute("gen_ai.response.model", model)


class AnswerTrace:
    """The root span of one answer: current (so the engine's spans are its children) from `start` to `end`,
    which must run in the same task. It reads the engine's events for the outcome and the token sums."""

    def __init__(self, span: Span, conversation: str | None) -> None:
        self.span = span
        self._waiting = 0  # agents of the running layer yet to finish
        self._outcome = "interrupted"
        self._conversation: Token[str | None] = _CONVERSATION.set(conversation)
        self._context = otel_context.attach(trace.set_span_in_context(span))

    @classmethod
    def start(cls, *, conversation: str | None, run_key: str | None, question: str,
              attributes: Mapping[str, AttributeValue]) -> AnswerTrace:
        """Start an answer's trace; with `run_key` its ids are `run_ids(run_key)` (when the SDK is ours)."""
        wanted = _WANTED_IDS.set(run_ids(run_key) if run_key is not None else None)
        try:
            span = _tracer.start_span("invoke_agent moa", kind=SpanKind.INTERNAL)
        finally:
            _WANTED_IDS.reset(wanted)
        if span.is_recording():
            span.set_attributes({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "moa",
                                 **attributes})
            if conversation is not None:
                span.set_attribute("gen_ai.conversation.id", conversation)
            if _recording.capture_content:
                span.set_attribute("gen_ai.input.messages", _messages_json([{"role": "user", "content": question}]))
        return cls(span, conversation)

    def see(self, event: MoaEvent) -> None:
        span = self.span
        if not span.is_recording():
            return
        match event:
            case LayerStarted(agents=agents):
                self._waiting = len(agents)
            case ProposerFinished():
                self._waiting -= 1
            case AggregatorStarted(restarted=True, model=model):
                span.add_event("moa.fallback", {"moa.fallback.model": model})
            case AggregatorStarted() if self._waiting > 0:
                span.set_attribute("moa.early_answer.taken", True)  # the opening came while a layer still ran
            case RunFinished():
                self._outcome = "answered"
                span.set_attributes({**_usage_attributes(event.usage), "moa.outcome": "answered",
                                     "gen_ai.response.model": event.model, "moa.layers.run": len(event.layers),
                                     "moa.early_exit.taken": event.skipped is not None,
                                     "moa.warnings": len(event.warnings)})
                if event.cost_usd is not None:
                    span.set_attribute("moa.cost_usd", event.cost_usd)
                if event.verdict is not None:
                    span.set_attribute("moa.verdict", event.verdict)
                if _recording.capture_content:
                    span.set_attribute("gen_ai.output.messages", _output_json(event.answer, None))
            case RunFailed():
                self._outcome = "failed"
                span.set_attributes({**_usage_attributes(event.usage), "moa.outcome": "failed",
                                     "error.type": event.kind})
                span.set_status(Status(StatusCode.ERROR, _text(event.error)[:500]))

    def end(self, error: BaseException | None = None) -> None:
        """End the answer's span (an exception that escaped the answer marks it failed) and stop it being current."""
        span = self.span
        if span.is_recording():
            if isinstance(error, asyncio.CancelledError) or (error is None and self._outcome == "interrupted"):
                span.set_attribute("moa.outcome", "interrupted")
            elif error is not None:
                span.set_attribute("moa.outcome", "failed")
                _fail(span, error)
        otel_context.detach(self._context)
        _CONVERSATION.reset(self._conversation)
        span.end()


def feedback(run_key: str, *, up: bool, changed: bool, run_id: int) -> None:
    """A 👍/👎 as a span in the answer's trace (a child of its root span, whose ids the run's key gives)."""
    trace_id, span_id = run_ids(run_key)
    parent = NonRecordingSpan(SpanContext(trace_id, span_id, is_remote=True,
                                          trace_flags=TraceFlags(TraceFlags.SAMPLED)))
    span = _tracer.start_span("feedback", context=trace.set_span_in_context(parent),
                              attributes={"moa.feedback.vote": "up" if up else "down",
                                          "moa.feedback.changed": changed, "moa.run.id": run_id})
    span.end()
