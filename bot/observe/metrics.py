"""Prometheus metrics of the answers this process gave, in one registry served at `/metrics`.

Fed once per answer at its end (`record_answer`), never from the engine's hot path.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

ANSWERS = Counter("moa_answers", "Answers by platform and outcome (answered, failed, interrupted, crashed).",
                  ["platform", "outcome"], registry=REGISTRY)
ANSWER_SECONDS = Histogram("moa_answer_seconds", "Seconds from an answer's start to its end.",
                           buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, float("inf")), registry=REGISTRY)
MODEL_CALLS = Counter("moa_model_calls", "Model calls by model and status (ok, error).", ["model", "status"],
                      registry=REGISTRY)
TOKENS = Counter("moa_tokens", "Tokens by model and kind (prompt, completion).", ["model", "kind"],
                 registry=REGISTRY)
ESTIMATED_TOKENS = Counter("moa_estimated_tokens", "Of moa_tokens, those estimated from the text because the "
                           "server reported no usage, by model and kind.", ["model", "kind"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("moa_queue_depth", "Questions waiting for a free slot.", registry=REGISTRY)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def watch_queue(depth: Callable[[], float]) -> None:
    """Read the queue depth from `depth` at every scrape."""
    QUEUE_DEPTH.set_function(depth)


def record_answer(platform: str, outcome: str, seconds: float) -> None:
    """One answer ended."""
    ANSWERS.labels(platform=platform, outcome=outcome).inc()
    ANSWER_SECONDS.observe(seconds)


def record_call(model: str, ok: bool, prompt_tokens: int, completion_tokens: int, estimated: bool = False) -> None:
    """One model call ended (its tokens as the provider reported them, or `estimated` from the text)."""
    MODEL_CALLS.labels(model=model, status="ok" if ok else "error").inc()
    for kind, count in (("prompt", prompt_tokens), ("completion", completion_tokens)):
        if count:
            TOKENS.labels(model=model, kind=kind).inc(count)
            if estimated:
                ESTIMATED_TOKENS.labels(model=model, kind=kind).inc(count)


def exposition() -> bytes:
    """The registry in Prometheus' text format."""
    return generate_latest(REGISTRY)
