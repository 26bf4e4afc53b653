"""What one answer asks of each model's rate limits: calls and tokens (prompt + max_tokens, as Groq
counts), per step and in all, and how long a known budget makes one answer take at the least."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from moa.config import MoaConfig
from moa.events import Turn
from moa.pacing import Pacer, estimate_tokens
from moa.prompts import build_messages

# What one earlier answer adds to a later call's prompt (a rough guess, for planning only).
ANSWER_TOKENS_GUESS = 300
QUESTION_GUESS = "a question of a few dozen words " * 6


@dataclass(frozen=True)
class ModelDemand:
    calls: int
    tokens: int


def step_demand(config: MoaConfig, question: str, history: Sequence[Turn], step: int) -> dict[str, int]:
    """Tokens step `step` asks each model for: proposer layers 1…cycles, then the aggregator."""
    base = estimate_tokens(build_messages(config.system_prompt, question, history))
    helper = ANSWER_TOKENS_GUESS * len(config.layer_agent_config) if step > 1 else 0
    if step > config.cycles:
        return {config.main_model: base + helper + config.max_tokens}
    demand: dict[str, int] = {}
    for agent in config.layer_agent_config.values():
        demand[agent.model_name] = demand.get(agent.model_name, 0) + base + helper + agent.max_tokens
    return demand


def answer_demand(config: MoaConfig, question: str = QUESTION_GUESS) -> dict[str, ModelDemand]:
    """Calls and tokens one answer asks of each model."""
    out: dict[str, ModelDemand] = {}
    for step in range(1, config.cycles + 2):
        calls = ([config.main_model] if step > config.cycles
                 else [a.model_name for a in config.layer_agent_config.values()])
        for model, tokens in step_demand(config, question, (), step).items():
            before = out.get(model, ModelDemand(0, 0))
            out[model] = ModelDemand(before.calls + calls.count(model), before.tokens + tokens)
    return out


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
