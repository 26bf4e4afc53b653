"""The engine's event stream: small frozen dataclasses, consumed with `match`.

A run yields, in order: for each proposer layer a `LayerStarted` then one `ProposerFinished` per agent
(in completion order); then `AggregatorStarted`, many `AggregatorDelta`, and finally exactly one of
`RunFinished` or `RunFailed`. Nothing follows the final event. `BudgetWaiting` may come at any point
before the final event (a call waits for a model's rate limit); a second `AggregatorStarted` with
`restarted=True` means a fallback aggregator starts the answer over. With the config's `early_answer`
(moa/early_answer.py) `AggregatorStarted` and the opening's `AggregatorDelta`s may come while later
layers still run; the deltas after the last layer continue that opening.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Usage:
    """Token counts of one call (or a sum of calls)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # the part of prompt_tokens the provider served from its prefix cache
    estimated: bool = False  # some of it was estimated from the text: the server reported no usage

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def uncached_tokens(self) -> int:
        """Prompt tokens read afresh (what Groq bills at the full input price)."""
        return max(0, self.prompt_tokens - self.cached_tokens)

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens,
                     self.cached_tokens + other.cached_tokens, self.estimated or other.estimated)


def aggregator_share(total: Usage, proposers: Iterable[tuple[str, Usage | None]], aggregator: str) -> Usage:
    """What a run's aggregator used: the run's `total` less its proposers' (model, usage), never below 0.
    Estimated when the total was and no proposer explains it, or one on the aggregator's own model was
    estimated too (a server that counts none)."""
    prompt, completion, cached = total.prompt_tokens, total.completion_tokens, total.cached_tokens
    guessed: set[str] = set()
    for model, used in proposers:
        if used is None:
            continue
        prompt, completion = prompt - used.prompt_tokens, completion - used.completion_tokens
        cached -= used.cached_tokens
        if used.estimated:
            guessed.add(model)
    return Usage(max(0, prompt), max(0, completion), max(0, cached),
                 total.estimated and (not guessed or aggregator in guessed))


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


LEFT_OUT = "left out:"  # how a straggler's error begins (stored with the run, shown in the layer view)


@dataclass(frozen=True)
class ProposerFinished:
    layer: int
    agent: str
    model: str
    text: str  # the answer without reasoning; "" when `error` is set
    latency_s: float  # from the call's start to its answer, waits for the budget and the server included
    usage: Usage | None = None
    error: str | None = None  # a user-facing sentence when the call failed
    cost_usd: float | None = None  # None when the model's price is unknown
    left_out: bool = False  # not failed: it lagged far behind the others and the layer went on without it
    cut: bool = False  # its answer stopped at the config's max_tokens (the model had more to say)
    # Of `latency_s`, the time it waited for the server to be free (a serial self-hosted server answers
    # the agent before it first), so a per-agent time does not read as the model being slow.
    queued_s: float = 0.0
    type: Literal["proposer_finished"] = "proposer_finished"

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def server_s(self) -> float:
        """The time the server spent on it: `latency_s` less the queue."""
        return max(0.0, self.latency_s - self.queued_s)


@dataclass(frozen=True)
class AggregatorStarted:
    model: str
    # True when a fallback takes over from a failed aggregator: what was streamed so far is void.
    restarted: bool = False
    type: Literal["aggregator_started"] = "aggregator_started"


@dataclass(frozen=True)
class BudgetWaiting:
    """A call waits for a model's rate-limit budget (about `wait_s`); `wait_s` 0 when it may go."""

    model: str
    provider: str  # "groq" or the declared provider's name
    resource: Literal["tokens", "requests"]
    wait_s: float
    type: Literal["budget_waiting"] = "budget_waiting"


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
    agreement: str | None = None  # the last layer's: "3 of 3 agents agreed", "agents split 2–1 (9 / 12)"
    skipped: str | None = None  # early exit: "layers 2–3 skipped: 3 of 3 agents agreed"
    type: Literal["run_finished"] = "run_finished"

    @property
    def verdict(self) -> str | None:
        """The one line said beside the answer: what was skipped and why, else how far agents agreed."""
        return self.skipped or self.agreement


@dataclass(frozen=True)
class RunFailed:
    error: str  # a user-facing sentence
    kind: Literal["all_proposers_failed", "aggregator_failed", "model_unavailable", "config", "deadline"]
    layers: tuple[LayerResult, ...] = ()
    usage: Usage = field(default_factory=Usage)
    type: Literal["run_failed"] = "run_failed"


MoaEvent = (LayerStarted | ProposerFinished | BudgetWaiting | AggregatorStarted | AggregatorDelta | RunFinished
            | RunFailed)
