"""What a run will ask of each model's rate limits, and how long it will take.

Built on the pacer's own view: a call counts its prompt plus the `max_tokens` it asks for, as Groq
counts it (`moa.plan.demand`), and the least time is what each model's known tokens- and
requests-per-window limits allow, models in parallel (each has its own budget). A server that sends no
rate-limit headers (most self-hosted ones) has no such limit, so the other estimate is the pace of the
answers timed so far (`Pace`): the run asks one question of one config at a time, so the time left is
each config's answers left × its median time per answer. Before a config has answered once, nothing
honest can be said about it, and the plan says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from moa.config.schema import DEFAULT_MAIN_PROMPT
from moa.eval.results import Outcome
from moa.eval.runner import EvalConfig, Task
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
    return {config.solo: ModelDemand(1, prompt + config.solo_max_tokens)}


@dataclass(frozen=True)
class ModelPlan:
    model: str
    calls: int
    tokens: int  # prompt + max_tokens over all calls: what counts against tokens per minute
    seconds: float | None  # the least time its known limits allow; None when they are not known
    limit: str  # "8,000 tokens / 60 s", "30 requests / 60 s", "not known yet", or "none declared"
    learns: bool = True  # its server tells its limits in response headers (Groq), so they are learnt


@dataclass
class Pace:
    """Seconds per answer of each config, from the answers timed so far (this run's and those kept from
    earlier runs of the same config)."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def of(cls, outcomes: Iterable[Outcome], configs: Sequence[EvalConfig]) -> Pace:
        """The timings kept in a results file for these configs (same name and same fingerprint)."""
        keys = {c.name: c.key for c in configs}
        pace = cls()
        for o in outcomes:
            if keys.get(o.config) == o.config_key:
                pace.add(o.config, o.seconds)
        return pace

    def add(self, config: str, seconds: float) -> None:
        if seconds > 0:
            self.seconds.setdefault(config, []).append(seconds)

    def per_answer(self, config: str) -> float | None:
        times = self.seconds.get(config)
        return statistics.median(times) if times else None

    def time_left(self, left: Mapping[str, int]) -> float | None:
        """How long `left` (answers to go per config) takes at this pace; None while a config that still
        has answers to go has none timed."""
        total = 0.0
        for config, count in left.items():
            if count <= 0:
                continue
            each = self.per_answer(config)
            if each is None:
                return None
            total += each * count
        return total

    def untimed(self, left: Mapping[str, int]) -> list[str]:
        """The configs with answers to go and none timed yet."""
        return [c for c, n in left.items() if n > 0 and self.per_answer(c) is None]


def answers_left(tasks: Iterable[Task]) -> dict[str, int]:
    """Answers to go per config name, in the order the configs come."""
    left: dict[str, int] = {}
    for task in tasks:
        left[task.config.name] = left.get(task.config.name, 0) + 1
    return left


@dataclass(frozen=True)
class RunPlan:
    answers: int
    models: tuple[ModelPlan, ...]
    paced_s: float | None = None  # the time left at the pace of the answers timed so far
    untimed: tuple[str, ...] = ()  # configs with answers to go and none timed yet

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
             tasks: Sequence[Task] | None = None, pace: Pace | None = None,
             sends_limits: Callable[[str], bool] = lambda _model: True) -> RunPlan:
    """The demand of every (question, config) answer — or of just `tasks` — per model, against the
    limits `pacer` knows, and the time left at `pace`. `sends_limits(model)`: whether its server tells
    its limits in headers (Groq does; a self-hosted server does not)."""
    tasks = tasks if tasks is not None else [Task(q, c) for q in questions for c in configs]
    pairs = [(t.question, t.config) for t in tasks]
    totals: dict[str, ModelDemand] = {}
    for question, config in pairs:
        for model, need in config_demand(config, question.question).items():
            before = totals.get(model, ModelDemand(0, 0))
            totals[model] = ModelDemand(before.calls + need.calls, before.tokens + need.tokens)
    models = []
    for model, need in totals.items():
        budget = pacer.known(model)
        if budget is None:
            learns = sends_limits(model)
            models.append(ModelPlan(model, need.calls, need.tokens, None,
                                    "not known yet" if learns else "none declared", learns))
            continue
        windows = []
        if budget.tpm:
            windows.append((need.tokens / budget.tpm, f"{budget.tpm:,} tokens / {budget.window_s:g} s"))
        if budget.rpm:
            windows.append((need.calls / budget.rpm, f"{budget.rpm:,} requests / {budget.window_s:g} s"))
        count, limit = max(windows) if windows else (0.0, "none")
        models.append(ModelPlan(model, need.calls, need.tokens, count * budget.window_s, limit))
    left = answers_left(tasks)
    pace = pace or Pace()
    return RunPlan(len(pairs), tuple(models), pace.time_left(left), tuple(pace.untimed(left)))
