"""What a run will ask of each model's rate limits, and how long those limits make it take at the least.

Built on the pacer's own view: a call counts its prompt plus the `max_tokens` it asks for, as Groq
counts it (`moa.plan.demand`), and the time is what each model's known tokens- and requests-per-window
limits allow, models in parallel (each has its own budget). Model latency comes on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from moa.config.schema import DEFAULT_MAIN_PROMPT
from moa.eval.runner import SOLO_MAX_TOKENS, EvalConfig, Task
from moa.eval.sets import Question
from moa.messages.prompts import build_messages, render_system
from moa.messages.tokens import estimate_tokens
from moa.pace.pacer import Pacer
from moa.plan.demand import ModelDemand, answer_demand


def config_demand(config: EvalConfig, question: str) -> dict[str, ModelDemand]:
    """Calls and tokens one answer of `config` asks of each model."""
    if config.moa is not None:
        return answer_demand(config.moa, question)
    assert config.solo is not None
    prompt = estimate_tokens(build_messages(render_system(DEFAULT_MAIN_PROMPT, ""), question))
    return {config.solo: ModelDemand(1, prompt + SOLO_MAX_TOKENS)}


@dataclass(frozen=True)
class ModelPlan:
    model: str
    calls: int
    tokens: int  # prompt + max_tokens over all calls: what counts against tokens per minute
    seconds: float | None  # the least time its known limits allow; None when they are not known
    limit: str  # "8,000 tokens / 60 s", "30 requests / 60 s", or "not known yet"


@dataclass(frozen=True)
class RunPlan:
    answers: int
    models: tuple[ModelPlan, ...]

    @property
    def calls(self) -> int:
        return sum(m.calls for m in self.models)

    @property
    def tokens(self) -> int:
        return sum(m.tokens for m in self.models)

    @property
    def seconds(self) -> float | None:
        """The least wall time the known limits allow (the slowest model), None if any limit is unknown."""
        times = [m.seconds for m in self.models]
        return None if not times or any(t is None for t in times) else max(t or 0.0 for t in times)


def plan_run(questions: Sequence[Question], configs: Sequence[EvalConfig], pacer: Pacer,
             tasks: Sequence[Task] | None = None) -> RunPlan:
    """The demand of every (question, config) answer — or of just `tasks` — per model, against the
    limits `pacer` knows."""
    pairs = [(t.question, t.config) for t in tasks] if tasks is not None else \
        [(q, c) for q in questions for c in configs]
    totals: dict[str, ModelDemand] = {}
    for question, config in pairs:
        for model, need in config_demand(config, question.question).items():
            before = totals.get(model, ModelDemand(0, 0))
            totals[model] = ModelDemand(before.calls + need.calls, before.tokens + need.tokens)
    models = []
    for model, need in totals.items():
        budget = pacer.known(model)
        if budget is None:
            models.append(ModelPlan(model, need.calls, need.tokens, None, "not known yet"))
            continue
        windows = []
        if budget.tpm:
            windows.append((need.tokens / budget.tpm, f"{budget.tpm:,} tokens / {budget.window_s:g} s"))
        if budget.rpm:
            windows.append((need.calls / budget.rpm, f"{budget.rpm:,} requests / {budget.window_s:g} s"))
        count, limit = max(windows) if windows else (0.0, "none")
        models.append(ModelPlan(model, need.calls, need.tokens, count * budget.window_s, limit))
    return RunPlan(len(pairs), tuple(models))
