"""One log line and the metrics of each answer, from the engine events the service already sees.

The service makes an `AnswerReport` when a run starts, shows it every event (`see`) and calls `end` once
in a `finally`: the INFO line says platform, channel, seconds, calls, tokens, cost and outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.observe import metrics
from moa.calls.counting import about
from moa.events import AggregatorStarted, ProposerFinished, RunFailed, RunFinished, Usage, aggregator_share
from moa.pricing import format_cost
from moa.run.engine import layer_cost, layer_usage
from storage.models import ChannelKey

log = logging.getLogger("moa.answers")


class AnswerReport:
    """Counts one answer's calls and tokens as its events pass."""

    def __init__(self, channel: ChannelKey) -> None:
        self.channel = channel
        self.started = time.monotonic()
        self.proposers: list[ProposerFinished] = []
        self.aggregator: str | None = None
        self.final: RunFinished | RunFailed | None = None

    def see(self, event: object) -> None:
        match event:
            case ProposerFinished():
                self.proposers.append(event)
            case AggregatorStarted(model=model):
                self.aggregator = model
            case RunFinished(model=model):  # the model that wrote the answer: the fallback, if it did
                self.aggregator, self.final = model, event
            case RunFailed():
                self.final = event

    def outcome(self, error: BaseException | None) -> str:
        if isinstance(self.final, RunFinished):
            return "answered"
        if isinstance(self.final, RunFailed):
            return "failed"
        return "interrupted" if isinstance(error, asyncio.CancelledError) else "crashed"

    def end(self, error: BaseException | None = None) -> None:
        """The answer is over (`error`: what is propagating, if anything): log it and count it.
        Never raises: reporting must not cost an answer."""
        try:
            self._end(error)
        except Exception:
            log.warning("could not report an answer's metrics", exc_info=True)

    def _end(self, error: BaseException | None) -> None:
        seconds = time.monotonic() - self.started
        outcome = self.outcome(error)
        usage = self.final.usage if self.final is not None else layer_usage(self.proposers)
        calls = len(self.proposers) + (1 if self.aggregator else 0)
        cost = self._cost()
        metrics.record_answer(self.channel.platform, outcome, seconds)
        for out in self.proposers:
            metrics.record_call(out.model, out.ok, *_tokens(out.usage), estimated=_estimated(out.usage))
        if self.aggregator:
            rest = aggregator_share(usage, [(out.model, out.usage) for out in self.proposers], self.aggregator)
            failed = isinstance(self.final, RunFailed) and self.final.kind == "aggregator_failed"
            metrics.record_call(self.aggregator, not failed and self.final is not None, *_tokens(rest),
                                estimated=rest.estimated)
        fields = {"platform": self.channel.platform, "channel": self.channel.channel,
                  "seconds": round(seconds, 3), "calls": calls, "tokens": usage.total_tokens,
                  "tokens_in": usage.prompt_tokens, "tokens_cached_in": usage.cached_tokens,
                  "tokens_out": usage.completion_tokens, "tokens_estimated": usage.estimated, "cost_usd": cost,
                  "aggregator": self.aggregator, "outcome": outcome}
        # `answer` rides along for MOA_LOG_FORMAT=json, which writes it as an object.
        log.info("answer platform=%s channel=%s seconds=%.1f calls=%d tokens=%s%d in=%d cached=%d out=%d cost=%s "
                 "aggregator=%s outcome=%s", self.channel.platform, self.channel.channel, seconds, calls,
                 about(usage), usage.total_tokens, usage.prompt_tokens, usage.cached_tokens,
                 usage.completion_tokens, format_cost(cost), self.aggregator or "-", outcome, extra={"answer": fields})

    def _cost(self) -> float | None:
        """What the answer cost, as storage records it: a failed run's calls cost money too."""
        if isinstance(self.final, RunFinished):
            return self.final.cost_usd
        if isinstance(self.final, RunFailed):
            return layer_cost([out for layer in self.final.layers for out in layer.outputs])
        return None


def _estimated(usage: Usage | None) -> bool:
    return usage is not None and usage.estimated


def _tokens(usage: Usage | None) -> tuple[int, int]:
    if usage is None:
        return 0, 0
    return max(usage.prompt_tokens, 0), max(usage.completion_tokens, 0)
