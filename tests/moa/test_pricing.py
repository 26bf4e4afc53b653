"""One dated price table; unknown prices are unknown, not zero."""

from __future__ import annotations

import re

import pytest

from moa.events import Usage
from moa.pricing import PRICES, PRICES_AS_OF, cost_usd, format_cost, price_for, total_cost


def test_the_table_is_dated() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES_AS_OF)
    assert "openai/gpt-oss-120b" in PRICES


def test_cost_of_a_call() -> None:
    price = PRICES["openai/gpt-oss-120b"]
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=500_000)
    assert cost_usd("openai/gpt-oss-120b", usage) == pytest.approx(price.input_per_m + price.output_per_m / 2)


def test_unknown_model_or_usage_is_unknown() -> None:
    assert price_for("ollama:llama3.2") is None
    assert cost_usd("ollama:llama3.2", Usage(10, 10)) is None
    assert cost_usd("openai/gpt-oss-120b", None) is None


def test_total_is_unknown_if_any_part_is() -> None:
    assert total_cost([0.1, 0.2]) == 0.1 + 0.2
    assert total_cost([0.1, None]) is None
    assert total_cost([]) == 0.0


def test_format() -> None:
    assert format_cost(None) == "unknown"
    assert format_cost(0.0012) == "$0.0012"
    assert format_cost(1.5) == "$1.5"
