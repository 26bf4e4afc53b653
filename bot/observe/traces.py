"""The OpenTelemetry SDK for `moa-bot run`, `ask`, the console and `eval`, from the standard OTEL_* variables.

Set `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and each answer is exported as one
trace over OTLP/HTTP (`moa/trace.py` says what its spans carry); unset, nothing is installed and the engine's
spans stay the API's no-op ones. The SDK reads the rest itself: `OTEL_EXPORTER_OTLP_HEADERS`,
`OTEL_SERVICE_NAME` (default here: moa-bot), `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`; values from `.env` count too.

A trace store that is down, slow or refusing costs the answers nothing: spans wait in a bounded queue and a
background thread exports them in batches; the exporter's complaints become one warning line now and then,
never a traceback; on exit the last batch gets a few seconds, then is dropped.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry.util.types import AttributeValue

from bot.text.redact import Redactor
from moa import trace
from moa.config.labels import config_label
from moa.config.schema import MoaConfig
from storage.models import ChannelKey

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
MISSING_SDK = ("{variable} is set but the OpenTelemetry SDK is not installed, so no traces are sent: "
               "pip install 'moa-bot[traces]'.")
EXIT_FLUSH_S = 2.0  # how long a process about to exit waits for its last spans to leave
COMPLAINT_EVERY_S = 300.0  # the exporter's failures: one line per this many seconds


def wanted(env: Mapping[str, str]) -> str | None:
    """The variable asking for traces, or None (none set, or OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    return next((name for name in ENDPOINT_VARIABLES if env.get(name, "").strip()), None)


def sdk_missing() -> bool:
    """True when the `traces` extra (opentelemetry-sdk and its OTLP/HTTP exporter) is not installed."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return True
    return False


class OneLineComplaints(logging.Handler):
    """Takes the SDK's own log records (the `opentelemetry` logger, not propagated): a failure to export
    becomes one warning line per interval on our logger, without a traceback; the rest is dropped."""

    def __init__(self, every_s: float = COMPLAINT_EVERY_S) -> None:
        super().__init__(logging.WARNING)
        self.every_s = every_s
        self._last: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every_s:
            return
        self._last = now
        log.warning("traces not exported (%s); answers are not affected", record.getMessage())


def _quiet_sdk_logs() -> None:
    sdk_log = logging.getLogger("opentelemetry")
    sdk_log.propagate = False
    if not any(isinstance(h, OneLineComplaints) for h in sdk_log.handlers):
        sdk_log.addHandler(OneLineComplaints())


def _install(env: Mapping[str, str]) -> Any:
    """A TracerProvider exporting over OTLP/HTTP through a batch processor, set as the global one."""
    from opentelemetry import trace as otel_trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class RunIds(RandomIdGenerator):
        """An answer's root span takes the ids derived from its run (moa.trace.run_ids), so a later 👍/👎
        joins its trace; every other span gets random ones."""

        def generate_trace_id(self) -> int:
            ids = trace.wanted_ids()
            return ids[0] if ids is not None else super().generate_trace_id()

        def generate_span_id(self) -> int:
            ids = trace.wanted_ids()
            return ids[1] if ids is not None else super().generate_span_id()

    try:
        version = importlib.metadata.version("moa-bot")
    except importlib.metadata.PackageNotFoundError:
        version = "dev"
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "").strip() or "moa-bot",
                                "service.version": version})
    provider = TracerProvider(resource=resource, id_generator=RunIds(), shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    otel_trace.set_tracer_provider(provider)
    return provider


def _shut_down(provider: Any, within_s: float) -> None:
    """Send what is queued, waiting at most `within_s` (an endpoint that hangs must not hold the exit)."""
    worker = threading.Thread(target=provider.shutdown, name="otel-shutdown", daemon=True)
    worker.start()
    worker.join(within_s)


@contextmanager
def traces(env: Mapping[str, str]) -> Iterator[bool]:
    """Export traces while the block runs when `env` asks for them; True when they are exported."""
    variable = wanted(env)
    if variable is None:
        yield False
        return
    if sdk_missing():
        log.warning(MISSING_SDK.format(variable=variable))
        yield False
        return
    for name, value in env.items():  # the SDK reads os.environ: values from .env count too
        if name.startswith("OTEL_"):
            os.environ.setdefault(name, value)
    _quiet_sdk_logs()
    trace.configure(capture_content=env.get(CAPTURE_CONTENT, "").strip().lower() == "true",
                    redact=Redactor.from_env(env).redact)
    provider = _install(env)
    try:
        yield True
    finally:
        _shut_down(provider, EXIT_FLUSH_S)


def run_key(channel: ChannelKey, run_id: int) -> str:
    """What names a stored run across processes and deployments: its channel and id (moa.trace.run_ids)."""
    return f"{_place(channel)}/{run_id}"


def _place(channel: ChannelKey) -> str:
    return f"{channel.platform}/{channel.workspace}/{channel.channel}"


def start_answer(config: MoaConfig, question: str, *, channel: ChannelKey | None = None, thread: str | None = None,
                 run_id: int | None = None, platform: str = "terminal") -> trace.AnswerTrace:
    """The root span of one answer (in `channel`'s `thread`, else in a terminal); current until its `end()`,
    which must run in the same task."""
    attributes: dict[str, AttributeValue] = {
        "moa.platform": channel.platform if channel is not None else platform, "moa.config": config_label(config),
        "moa.layers": config.layers, "moa.agents": len(config.agents), "moa.early_exit": config.early_exit,
        "moa.early_answer": config.early_answer}
    if channel is not None:
        attributes.update({"moa.workspace": channel.workspace, "moa.channel": channel.channel})
    if run_id is not None:
        attributes["moa.run.id"] = run_id
    return trace.AnswerTrace.start(
        conversation=f"{_place(channel)}/{thread}" if channel is not None and thread is not None else None,
        run_key=run_key(channel, run_id) if channel is not None and run_id is not None else None,
        question=question, attributes=attributes)


def doctor_lines(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """`moa-bot doctor`'s lines on traces: ("ok" | "note" | "bad", text)."""
    variable = wanted(env)
    if variable is None:
        return [("note", "no traces: set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:6006 for Arize Phoenix) "
                         "to export each answer as an OpenTelemetry trace (docs/traces.md)")]
    if sdk_missing():
        return [("bad", MISSING_SDK.format(variable=variable))]
    endpoint = env[variable].strip().rstrip("/")
    if variable == "OTEL_EXPORTER_OTLP_ENDPOINT":
        endpoint += "/v1/traces"
    extras = [f"service {env.get('OTEL_SERVICE_NAME', '').strip() or 'moa-bot'}"]
    if env.get("OTEL_EXPORTER_OTLP_HEADERS", "").strip():
        extras.append("with OTEL_EXPORTER_OTLP_HEADERS")
    if env.get(CAPTURE_CONTENT, "").strip().lower() == "true":
        extras.append("questions and answers included")
    return [("ok", f"traces to {endpoint} over OTLP/HTTP ({', '.join(extras)})")]
