"""One dated price table, USD per million tokens; a model not in it has an unknown price (None), never 0.

Prices change: check https://groq.com/pricing and update `PRICES_AS_OF` with the table. Models of
OpenAI-compatible providers (`name:model`, e.g. a local Ollama) are not priced here, so their cost is
unknown rather than assumed free.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from moa.events import Usage

PRICES_AS_OF = "2025-11-01"


@dataclass(frozen=True)
class Price:
    input_per_m: float  # USD per million prompt tokens
    output_per_m: float  # USD per million completion tokens

    def cost(self, usage: Usage) -> float:
        return (usage.prompt_tokens * self.input_per_m + usage.completion_tokens * self.output_per_m) / 1e6


# Groq on-demand prices as published on PRICES_AS_OF.
PRICES: dict[str, Price] = {
    "openai/gpt-oss-120b": Price(0.15, 0.60),
    "openai/gpt-oss-20b": Price(0.075, 0.30),
    "openai/gpt-oss-safeguard-20b": Price(0.075, 0.30),
    "qwen/qwen3-32b": Price(0.29, 0.59),
    "llama-3.3-70b-versatile": Price(0.59, 0.79),
    "llama-3.1-8b-instant": Price(0.05, 0.08),
    "meta-llama/llama-4-scout-17b-16e-instruct": Price(0.11, 0.34),
    "meta-llama/llama-4-maverick-17b-128e-instruct": Price(0.20, 0.60),
    "moonshotai/kimi-k2-instruct-0905": Price(1.00, 3.00),
}


def price_for(model: str) -> Price | None:
    """The model's price, or None when it is not in the table (unknown, not free)."""
    return PRICES.get(model)


def cost_usd(model: str, usage: Usage | None) -> float | None:
    """What one call cost; None when the price or the usage is unknown."""
    price = price_for(model)
    if price is None or usage is None:
        return None
    return price.cost(usage)


def total_cost(costs: Iterable[float | None]) -> float | None:
    """The sum, or None as soon as any part is unknown."""
    total = 0.0
    for cost in costs:
        if cost is None:
            return None
        total += cost
    return total


def format_cost(cost: float | None) -> str:
    """"$0.0012" or "unknown"."""
    if cost is None:
        return "unknown"
    if cost == 0:
        return "$0"
    if cost < 0.01:
        return f"${cost:.6f}".rstrip("0")
    return f"${cost:.4f}".rstrip("0").rstrip(".")
