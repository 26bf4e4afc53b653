"""One dated price table, USD per million tokens; a Groq model not in it has an unknown price (None), never 0.

Prices change: check https://groq.com/pricing and update the table and `PRICES_AS_OF` together, or point
MOA_PRICES at a JSON file of your own (`{"model id": {"input": 0.15, "output": 0.60, "cached_input": 0.075}}`;
"cached_input" is optional and defaults to the full input price), which overrides
the table model by model. Models of OpenAI-compatible providers (`name:model`, e.g. a local Ollama) cost
nothing unless MOA_PRICES declares a price for them (a hosted provider such as Together should be declared).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from moa.errors import ConfigError
from moa.events import Usage

PRICES_AS_OF = "2026-09-17"
PRICES_SOURCE = "https://groq.com/pricing and https://console.groq.com/docs/models"
_PROVIDER_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}:")  # `ollama:llama3.1:8b`; Groq ids have no such prefix


@dataclass(frozen=True)
class Price:
    input_per_m: float  # USD per million prompt tokens
    output_per_m: float  # USD per million completion tokens
    cached_input_per_m: float | None = None  # USD per million cached prompt tokens; None: the input price

    @property
    def cached_per_m(self) -> float:
        return self.input_per_m if self.cached_input_per_m is None else self.cached_input_per_m

    def cost(self, usage: Usage) -> float:
        return (usage.uncached_tokens * self.input_per_m + usage.cached_tokens * self.cached_per_m
                + usage.completion_tokens * self.output_per_m) / 1e6


# Groq on-demand prices for the models live in autumn 2026, from PRICES_SOURCE (last checked PRICES_AS_OF).
# Retired models (the Llama 3.x and Llama 4 previews, qwen/qwen3-32b, Kimi K2) are gone: they cannot be called.
# Cached input: Groq's prompt-caching docs (console.groq.com/docs/prompt-caching) give 50% off cached
# prompt tokens, so the third figure is half the input price.
PRICES: dict[str, Price] = {
    "openai/gpt-oss-120b": Price(0.15, 0.60, 0.075),
    "openai/gpt-oss-20b": Price(0.075, 0.30, 0.0375),
    "openai/gpt-oss-safeguard-20b": Price(0.075, 0.30, 0.0375),
    "qwen/qwen3.8-27b": Price(0.80, 4.00, 0.40),  # preview; priced on groq.com/pricing since 2026-08
}

FREE = Price(0.0, 0.0)


def is_self_hosted(model: str) -> bool:
    """True for a `name:model` id of an OpenAI-compatible provider (its models are not billed by Groq)."""
    return bool(_PROVIDER_PREFIX.match(model))


def total_cost(costs: Iterable[float | None]) -> float | None:
    """The sum, or None as soon as any part is unknown."""
    total = 0.0
    for cost in costs:
        if cost is None:
            return None
        total += cost
    return total


class PriceTable:
    """What calls cost in this process: the built-in table, with MOA_PRICES' prices over it model by model."""

    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        self._overrides = dict(overrides or {})

    @classmethod
    def from_file(cls, path: str) -> PriceTable:
        """MOA_PRICES: a JSON object of model id → {"input": USD/M, "output": USD/M}; "" is the built-in
        table alone. ConfigError names the variable and what is wrong."""
        return cls(_read_price_file(path) if path.strip() else None)

    def price_for(self, model: str) -> Price | None:
        """MOA_PRICES' price, else the table's; a provider model without one is free; else None (unknown)."""
        if model in self._overrides:
            return self._overrides[model]
        if model in PRICES:
            return PRICES[model]
        return FREE if is_self_hosted(model) else None

    def cost_usd(self, model: str, usage: Usage | None) -> float | None:
        """What one call cost; None when the price or the usage is unknown."""
        price = self.price_for(model)
        if price is None or usage is None:
            return None
        return price.cost(usage)

    def unpriced(self, models: Iterable[str]) -> list[str]:
        """The models among `models` whose price is unknown, each once, in order."""
        return [m for m in dict.fromkeys(models) if self.price_for(m) is None]

    def describe_cost(self, calls: Iterable[tuple[str, Usage | None]]) -> str:
        """The cost of a run's calls (model, usage) for a sentence: "$0.0012", or the priced part and the
        models without a price, e.g. "$0.0004 + unknown (no price for qwen/x: add it to MOA_PRICES)"."""
        calls = list(calls)
        known = sum(c for m, u in calls if (c := self.cost_usd(m, u)) is not None)
        missing = self.unpriced(m for m, u in calls if u is not None)
        if not missing:
            return format_cost(known)
        names = ", ".join(missing)
        head = f"{format_cost(known)} + unknown" if known else "unknown"
        return f"{head} (no price for {names}: add it to MOA_PRICES)"


def _read_price_file(path: str) -> dict[str, Price]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"MOA_PRICES: cannot read {path} ({err.strerror or err}).") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"MOA_PRICES: {path} is not valid JSON ({err.msg}, line {err.lineno}).") from None
    if not isinstance(data, dict):
        raise ConfigError(f"MOA_PRICES: {path} must hold an object of model id → "
                          "{\"input\": USD per million tokens, \"output\": USD per million tokens}.")
    prices: dict[str, Price] = {}
    for model, entry in data.items():
        try:
            cached = entry.get("cached_input")
            prices[model] = Price(float(entry["input"]), float(entry["output"]),
                                  None if cached is None else float(cached))
        except (TypeError, KeyError, ValueError, AttributeError):
            raise ConfigError(f"MOA_PRICES: the price of {model!r} must look like "
                              "{\"input\": 0.15, \"output\": 0.60} (USD per million tokens; optionally "
                              "\"cached_input\": 0.075).") from None
        if prices[model].input_per_m < 0 or prices[model].output_per_m < 0 or prices[model].cached_per_m < 0:
            raise ConfigError(f"MOA_PRICES: the price of {model!r} cannot be negative.")
    return prices


def format_cost(cost: float | None) -> str:
    """"$0.0012" or "unknown"."""
    if cost is None:
        return "unknown"
    if cost == 0:
        return "$0"
    if cost < 0.01:
        return f"${cost:.6f}".rstrip("0")
    return f"${cost:.4f}".rstrip("0").rstrip(".")
