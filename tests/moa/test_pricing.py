"""One dated price table; unknown prices are unknown, not zero."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from moa.errors import ConfigError
from moa.events import Usage
from moa.pricing import PRICES, PRICES_AS_OF, PRICES_SOURCE, PriceTable, format_cost, total_cost

BUILT_IN = PriceTable()
cost_usd, price_for, describe_cost = BUILT_IN.cost_usd, BUILT_IN.price_for, BUILT_IN.describe_cost


def test_the_table_is_dated_names_its_source_and_prices_the_live_groq_models() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", PRICES_AS_OF)
    assert "groq.com/pricing" in PRICES_SOURCE
    for live in ("openai/gpt-oss-120b", "openai/gpt-oss-20b", "qwen/qwen3.8-27b"):
        assert live in PRICES
    for retired in ("llama-3.3-70b-versatile", "llama-3.1-8b-instant", "qwen/qwen3-32b"):
        assert retired not in PRICES


def test_cost_of_a_call() -> None:
    price = PRICES["openai/gpt-oss-120b"]
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=500_000)
    assert cost_usd("openai/gpt-oss-120b", usage) == pytest.approx(price.input_per_m + price.output_per_m / 2)


def test_unknown_model_or_usage_is_unknown() -> None:
    assert price_for("some/new-model") is None
    assert cost_usd("some/new-model", Usage(10, 10)) is None
    assert cost_usd("openai/gpt-oss-120b", None) is None


def test_a_self_hosted_model_costs_nothing_unless_moa_prices_declares_it(tmp_path: Path) -> None:
    assert cost_usd("ollama:llama3.2", Usage(1_000_000, 1_000_000)) == 0.0
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"together:llama-70b": {"input": 0.88, "output": 0.88},
                                  "openai/gpt-oss-120b": {"input": 0.1, "output": 0.5}}))
    declared = PriceTable.from_file(str(prices))
    assert declared.cost_usd("together:llama-70b", Usage(1_000_000, 0)) == pytest.approx(0.88)
    assert declared.cost_usd("openai/gpt-oss-120b", Usage(0, 1_000_000)) == pytest.approx(0.5)  # the file wins
    assert cost_usd("openai/gpt-oss-120b", Usage(0, 1_000_000)) == pytest.approx(0.6)  # another table keeps its own


def test_a_bad_price_file_is_a_sentence_naming_moa_prices(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"x/y": {"input": "cheap"}}))
    with pytest.raises(ConfigError, match=r"MOA_PRICES: the price of 'x/y' must look like"):
        PriceTable.from_file(str(prices))
    with pytest.raises(ConfigError, match=r"MOA_PRICES: cannot read"):
        PriceTable.from_file(str(tmp_path / "missing.json"))


def test_a_partial_total_names_the_model_without_a_price() -> None:
    calls = [("openai/gpt-oss-120b", Usage(1_000_000, 0)), ("some/new-model", Usage(10, 10))]
    assert describe_cost(calls) == "$0.15 + unknown (no price for some/new-model: add it to MOA_PRICES)"
    assert describe_cost(calls[:1]) == "$0.15"


def test_total_is_unknown_if_any_part_is() -> None:
    assert total_cost([0.1, 0.2]) == 0.1 + 0.2
    assert total_cost([0.1, None]) is None
    assert total_cost([]) == 0.0


def test_format() -> None:
    assert format_cost(None) == "unknown"
    assert format_cost(0.0012) == "$0.0012"
    assert format_cost(1.5) == "$1.5"


async def test_moa_prices_reaches_the_providers_costs_and_a_bad_file_stops_them(tmp_path: Path) -> None:
    from moa.calls.providers import ProviderRegistry

    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"openai/gpt-oss-120b": {"input": 0.1, "output": 0.5}}))
    env = {"GROQ_API_KEY": "gsk_test", "MOA_PRICES": str(prices)}
    async with ProviderRegistry.from_env(env) as registry:
        assert registry.prices.cost_usd("openai/gpt-oss-120b", Usage(0, 1_000_000)) == pytest.approx(0.5)
    prices.write_text("{not json")
    with pytest.raises(ConfigError, match=r"MOA_PRICES: .* is not valid JSON"):
        ProviderRegistry.from_env(env)
