"""Cached prompt tokens, through the real groq SDK against a fake Groq that caches prefixes: read from the
usage, priced at the cached-input price, and not counted against the model's tokens per minute."""

from __future__ import annotations

import asyncio

import pytest

from moa.calls.providers import ProviderRegistry
from moa.events import Turn, Usage
from moa.messages.tokens import estimate_tokens
from moa.pricing import PRICES, PriceTable
from tests.fakes.groq_server import FakeGroq
from tests.moa.helpers import TRANSPORTS

__all__ = ["fake"]
from tests.moa.pace.test_limits import FAST, STRONG, collect, fake, final, make_engine, small_config

cost_usd = PriceTable().cost_usd  # the built-in table

HISTORY = [{"role": "user", "content": "Tell me about the harbour. " * 60},
           {"role": "assistant", "content": "The harbour is old and busy. " * 30}]


def registry(fake: FakeGroq, transport: str = "auto") -> ProviderRegistry:
    return ProviderRegistry.from_env({"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url,
                                      "MOA_HTTP_TRANSPORT": transport}, call_timeout_s=10, deadline_s=30)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "streamed"])
async def test_cached_tokens_are_read_from_the_usage(fake: FakeGroq, transport: str, stream: bool) -> None:
    fake.prefix_cache = True
    async with registry(fake, transport) as providers:
        on_delta = (lambda piece: None) if stream else None
        first = await providers.complete(FAST, [*HISTORY, {"role": "user", "content": "When was it built?"}],
                                         on_delta=on_delta)
        second = await providers.complete(FAST, [*HISTORY, {"role": "user", "content": "Who works there?"}],
                                          on_delta=on_delta)
    assert first.usage is not None and first.usage.cached_tokens == 0
    assert second.usage is not None
    assert second.usage.cached_tokens == fake.calls[1].cached_tokens > 0  # what the fake reported
    assert second.usage.prompt_tokens == fake.calls[1].usage["prompt_tokens"]  # type: ignore[index]


def test_cached_input_costs_half_the_input_price() -> None:
    price = PRICES[STRONG]
    fresh = Usage(prompt_tokens=1000, completion_tokens=100)
    cached = Usage(prompt_tokens=1000, completion_tokens=100, cached_tokens=800)
    assert cost_usd(STRONG, fresh) == pytest.approx((1000 * price.input_per_m + 100 * price.output_per_m) / 1e6)
    assert cost_usd(STRONG, cached) == pytest.approx(
        (200 * price.input_per_m + 800 * price.input_per_m / 2 + 100 * price.output_per_m) / 1e6)


async def test_the_pacer_counts_what_groq_counts_once_its_headers_tell(fake: FakeGroq) -> None:
    fake.prefix_cache = True
    fake.limit(FAST, tpm=100_000)
    question = [{"role": "user", "content": "When was it built?"}]
    async with registry(fake) as providers:
        for _ in range(3):
            await providers.complete(FAST, [*HISTORY, *question], max_tokens=50)
        budget = providers.pacer.known(FAST)
        assert budget is not None
        counted = budget.tokens.used(asyncio.get_running_loop().time())
    assert [c.cached_tokens > 0 for c in fake.calls] == [False, True, True]
    assert counted == sum(c.requested_tokens or 0 for c in fake.calls)  # cached tokens left out, as Groq does


async def test_declared_limits_do_not_count_cached_tokens_against_the_minute(fake: FakeGroq) -> None:
    fake.prefix_cache = True  # no limit headers: the pacer counts on its own, from MOA_LIMITS
    question = [{"role": "user", "content": "When was it built?"}]
    providers = ProviderRegistry.from_env({"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url,
                                           "MOA_LIMITS": f"{FAST}=100000tpm"}, call_timeout_s=10)
    async with providers:
        await providers.complete(FAST, [*HISTORY, *question], max_tokens=50)
        second = await providers.complete(FAST, [*HISTORY, *question], max_tokens=50)
        budget = providers.pacer.known(FAST)
        assert budget is not None
        counted = budget.tokens.used(asyncio.get_running_loop().time())
    assert second.usage is not None and second.usage.cached_tokens > 0
    one_call = estimate_tokens([*HISTORY, *question]) + 50
    assert counted == 2 * one_call - second.usage.cached_tokens


async def test_a_run_in_a_thread_reports_and_prices_its_cached_share(fake: FakeGroq) -> None:
    fake.prefix_cache = True
    history = [Turn("user", "Tell me about the harbour. " * 60, "ana"),
               Turn("assistant", "The harbour is old and busy. " * 30)]
    engine = make_engine(fake)
    config = small_config((FAST, FAST), layers=1)
    await collect(engine, "When was it built?", config, history)
    done = final(await collect(engine, "Who works there?", config, history))
    await engine.providers.aclose()
    second_run = fake.calls[len(fake.calls) // 2:]
    assert done.usage.cached_tokens == sum(c.cached_tokens for c in second_run) > 0
    as_reported = [(c.model, Usage(c.usage["prompt_tokens"], c.usage["completion_tokens"],  # type: ignore[index]
                                   c.cached_tokens)) for c in second_run]
    full_price = sum(cost_usd(m, Usage(u.prompt_tokens, u.completion_tokens)) or 0.0 for m, u in as_reported)
    assert done.cost_usd == pytest.approx(sum(cost_usd(m, u) or 0.0 for m, u in as_reported))
    assert done.cost_usd < full_price
