"""What one answer asks of each model's rate limits: calls and tokens (prompt + max_tokens, as Groq
counts), per step and in all (`AnswerPlan`, made once per answer by `MoaEngine.plan`: admission weighs its
total, the engine tells the pacer each next step), and how long a known budget makes one answer take at
the least.

Estimates count the whole prompt, the thread's history included. With a `reserve` (the engine's learned
reservations, moa.plan.reserve) calls count what they will reserve instead of the config's max_tokens; with
the shared_prefix layout every call of a model after its first is expected to find the thread and the
question in the provider's prefix cache, and with the instruction_first layout every call of an agent after
its first its own instruction and the thread; Groq does not count those (`ModelDemand.cached`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from moa.config.schema import MoaConfig
from moa.events import Turn
from moa.messages.prompts import build_messages, render_system
from moa.messages.tokens import estimate_tokens
from moa.pace.budget import Need
from moa.pace.pacer import Pacer
from moa.plan.reserve import Role

# (model, role, the config's max_tokens) → what a call reserves
Reserve = Callable[[str, Role, int], int]

# What one earlier answer adds to a later call's prompt (a rough guess, for planning only).
ANSWER_TOKENS_GUESS = 300
QUESTION_GUESS = "a question of a few dozen words " * 6


@dataclass(frozen=True)
class ModelDemand:
    calls: int
    tokens: int  # counted against tokens per minute: prompts less the expected cached share, + max_tokens
    cached: int = 0  # prompt tokens expected from the provider's prefix cache (not counted)


def step_demand(config: MoaConfig, question: str, history: Sequence[Turn], step: int,
                reserve: Reserve | None = None) -> dict[str, int]:
    """Tokens step `step` asks each model for: proposer layers 1…layers, then the aggregator."""
    base = estimate_tokens(build_messages(config.system_prompt, question, history))
    helper = ANSWER_TOKENS_GUESS * len(config.layer_agent_config) if step > 1 else 0
    if step > config.layers:
        reserved = reserve(config.main_model, "aggregator", config.max_tokens) if reserve else config.max_tokens
        return {config.main_model: base + helper + reserved}
    demand: dict[str, int] = {}
    for agent in config.layer_agent_config.values():
        model = agent.model_name
        reserved = reserve(model, "proposer", agent.max_tokens) if reserve else agent.max_tokens
        demand[model] = demand.get(model, 0) + base + helper + reserved
    return demand


def shared_prefix_tokens(question: str, history: Sequence[Turn]) -> int:
    """What the shared_prefix layout puts before each agent's own prompt: the thread and the question."""
    return _prompt_tokens("", question, history)


def _prompt_tokens(system: str, question: str, history: Sequence[Turn]) -> int:
    return max(0, estimate_tokens(build_messages(system, question, history)) - estimate_tokens([{"content": ""}]))


def expected_cached(config: MoaConfig, question: str, history: Sequence[Turn]) -> dict[str, int]:
    """Prompt tokens each model's calls of one answer are expected to find in the provider's prefix cache
    (from the answer's own earlier calls; a thread's earlier answers may leave more)."""
    cached: dict[str, int] = {}
    if config.prompt_layout == "shared_prefix":  # the thread and the question, after each model's first call
        calls: dict[str, int] = {}
        for agent in config.layer_agent_config.values():
            calls[agent.model_name] = calls.get(agent.model_name, 0) + config.layers
        calls[config.main_model] = calls.get(config.main_model, 0) + 1
        shared = shared_prefix_tokens(question, history)
        cached = {model: shared * (n - 1) for model, n in calls.items()}
    elif config.prompt_layout == "instruction_first":  # an agent's instruction and the thread, after its first
        for agent in config.layer_agent_config.values():
            prefix = _prompt_tokens(render_system(agent.system_prompt, ""), "", history)
            cached[agent.model_name] = cached.get(agent.model_name, 0) + prefix * (config.layers - 1)
    return cached


@dataclass(frozen=True)
class AnswerPlan:
    """What one answer will ask of each model: tokens per step (proposer layers 1…layers, then the
    aggregator) and calls and tokens in all."""

    steps: tuple[dict[str, int], ...]
    total: dict[str, ModelDemand]
    step_calls: tuple[dict[str, int], ...] = ()  # calls each step makes to each model

    def step(self, number: int) -> dict[str, int]:
        """Tokens step `number` (1-based) asks each model for; nothing past the aggregator."""
        return self.steps[number - 1] if 1 <= number <= len(self.steps) else {}

    def step_needs(self, number: int) -> dict[str, Need]:
        """Tokens and calls step `number` (1-based) asks of each model."""
        if not 1 <= number <= len(self.step_calls):
            return {}
        calls = self.step_calls[number - 1]
        return {model: Need(tokens, calls.get(model, 0)) for model, tokens in self.step(number).items()}

    def needs(self) -> dict[str, Need]:
        """What admission weighs against the models' budgets: the whole answer's calls and tokens."""
        return {model: Need(need.tokens, need.calls) for model, need in self.total.items()}


def plan_answer(config: MoaConfig, question: str = QUESTION_GUESS, history: Sequence[Turn] = (),
                reserve: Reserve | None = None) -> AnswerPlan:
    """One answer's plan: each step's tokens per model, and the calls and tokens of all steps."""
    steps = tuple(step_demand(config, question, history, step, reserve) for step in range(1, config.layers + 2))
    out: dict[str, ModelDemand] = {}
    step_calls: list[dict[str, int]] = []
    for step, demand in enumerate(steps, start=1):
        calls = ([config.main_model] if step > config.layers
                 else [a.model_name for a in config.layer_agent_config.values()])
        step_calls.append({model: calls.count(model) for model in demand})
        for model, tokens in demand.items():
            before = out.get(model, ModelDemand(0, 0))
            out[model] = ModelDemand(before.calls + calls.count(model), before.tokens + tokens)
    cached = expected_cached(config, question, history)
    out = {model: ModelDemand(d.calls, d.tokens - cached.get(model, 0), cached.get(model, 0))
           for model, d in out.items()}
    return AnswerPlan(steps, out, tuple(step_calls))


def answer_demand(config: MoaConfig, question: str = QUESTION_GUESS, history: Sequence[Turn] = (),
                  reserve: Reserve | None = None) -> dict[str, ModelDemand]:
    """Calls and tokens one answer asks of each model, the history's included (a plan's total)."""
    return plan_answer(config, question, history, reserve).total


@dataclass(frozen=True)
class BudgetPace:
    answers_per_window: float  # answers the tightest known limit allows per window
    window_s: float
    model: str  # the model whose limit is tightest
    limit: str  # e.g. "8,000 tokens" or "30 requests"


def budget_pace(demand: dict[str, ModelDemand], pacer: Pacer) -> BudgetPace | None:
    """How many answers per window the known limits allow (other traffic aside); None when no model
    of the answer has a known limit."""
    tightest: BudgetPace | None = None
    for model, need in demand.items():
        budget = pacer.known(model)
        if budget is None:
            continue
        options = []
        if budget.tpm and need.tokens:
            options.append((budget.tpm / need.tokens, f"{budget.tpm:,} tokens"))
        if budget.rpm and need.calls:
            options.append((budget.rpm / need.calls, f"{budget.rpm:,} requests"))
        for rate, limit in options:
            if tightest is None or rate < tightest.answers_per_window:
                tightest = BudgetPace(rate, budget.window_s, model, limit)
    return tightest
