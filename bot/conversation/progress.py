"""What an answer's status shows while it runs: engine events folded into a `Progress`."""

from __future__ import annotations

from collections.abc import Callable

from bot.surface import AgentProgress, Progress
from moa.config.schema import MoaConfig
from moa.events import AggregatorStarted, BudgetWaiting, LayerStarted, ProposerFinished


class ProgressTracker:
    """Folds engine events into the `Progress` a surface shows: states only, never answers."""

    def __init__(self, config: MoaConfig, redact: Callable[[str], str] = str) -> None:
        self._redact = redact
        self._total = config.layers
        self._layer = 1
        self._aggregator = config.main_model
        self._agents = [AgentProgress(name, agent.model_name, "waiting") for name, agent in config.agents]
        self._waits: dict[str, BudgetWaiting] = {}  # model -> its rate-limit wait, while there is one

    def apply(self, event: LayerStarted | ProposerFinished | AggregatorStarted | BudgetWaiting) -> None:
        match event:
            case BudgetWaiting(model=model, wait_s=wait_s) if wait_s <= 0:
                self._waits.pop(model, None)
            case BudgetWaiting(model=model):
                self._waits[model] = event
            case LayerStarted(layer=layer, agents=names, models=models):
                self._layer = layer
                self._agents = [AgentProgress(n, m, "running") for n, m in zip(names, models, strict=False)]
            case ProposerFinished():
                self._agents = [
                    AgentProgress(a.name, a.model, "done" if event.ok else "failed", event.latency_s,
                                  self._redact(event.error) if event.error else None, event.queued_s)
                    if a.name == event.agent else a
                    for a in self._agents
                ]
            case AggregatorStarted(model=model):
                self._layer = self._total + 1
                self._aggregator = model

    def snapshot(self) -> Progress:
        return Progress(layer=self._layer, total_layers=self._total, agents=tuple(self._agents),
                        aggregator_model=self._aggregator, budget_waits=tuple(self._waits.values()))
