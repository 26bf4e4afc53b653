"""The engine's event stream: small frozen dataclasses, consumed with `match`.

A run yields, in order: for each proposer layer a `LayerStarted` then one `ProposerFinished` per agent
(in completion order); then `AggregatorStarted`, many `AggregatorDelta`, and finally exactly one of
`RunFinished` or `RunFailed`. Nothing follows the final event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Usage:
    """Token counts of one call (or a sum of calls)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation, given to every agent as context."""

    role: Literal["user", "assistant"]
    text: str
    author: str | None = None


@dataclass(frozen=True)
class LayerStarted:
    layer: int  # 1-based proposer layer
    total_layers: int
    agents: tuple[str, ...]  # agent names, in config order
    models: tuple[str, ...]  # model of each agent, same order
    type: Literal["layer_started"] = "layer_started"


@dataclass(frozen=True)
class ProposerFinished:
    layer: int
    agent: str
    model: str
    text: str  # the answer without reasoning; "" when `error` is set
    latency_s: float
    usage: Usage | None = None
    error: str | None = None  # a user-facing sentence when the call failed
    cost_usd: float | None = None  # None when the model's price is unknown
    type: Literal["proposer_finished"] = "proposer_finished"

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class AggregatorStarted:
    model: str
    type: Literal["aggregator_started"] = "aggregator_started"


@dataclass(frozen=True)
class AggregatorDelta:
    text: str  # the new piece only
    type: Literal["aggregator_delta"] = "aggregator_delta"


@dataclass(frozen=True)
class LayerResult:
    layer: int
    outputs: tuple[ProposerFinished, ...]  # in config (agent) order


@dataclass(frozen=True)
class Timings:
    started_at: float  # time.time() at start
    total_s: float
    layers_s: tuple[float, ...]  # wall time of each proposer layer
    aggregator_s: float
    first_token_s: float | None  # from start to the aggregator's first delta


@dataclass(frozen=True)
class RunFinished:
    answer: str
    model: str  # the aggregator's model
    layers: tuple[LayerResult, ...]
    usage: Usage
    cost_usd: float | None  # None if any call's price is unknown
    timings: Timings
    warnings: tuple[str, ...] = field(default=())  # e.g. "1 of 3 agents failed in layer 2"
    type: Literal["run_finished"] = "run_finished"


@dataclass(frozen=True)
class RunFailed:
    error: str  # a user-facing sentence
    kind: Literal["all_proposers_failed", "aggregator_failed", "model_unavailable", "config", "deadline"]
    layers: tuple[LayerResult, ...] = ()
    usage: Usage = field(default_factory=Usage)
    type: Literal["run_failed"] = "run_failed"


MoaEvent = LayerStarted | ProposerFinished | AggregatorStarted | AggregatorDelta | RunFinished | RunFailed
