"""Providers that refuse the connection or answer 404 on their API path: a sentence naming the URL and
the setting, at once (the real SDK against the fake Groq, or a closed port)."""

from __future__ import annotations

import socket

import pytest

from moa.calls.providers import ProviderRegistry
from moa.errors import ProviderError
from tests.fakes.groq_server import FakeGroq

MESSAGES = [{"role": "user", "content": "hi"}]


def _closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def test_a_declared_provider_that_refuses_says_is_the_server_running() -> None:
    url = _closed_url() + "/v1"
    async with ProviderRegistry(groq_api_key=None, providers={"ollama": (url, None)}) as registry:
        with pytest.raises(ProviderError) as caught:
            await registry.complete("ollama:llama3.2", MESSAGES)
        with pytest.raises(ProviderError) as listing:
            await registry.live_models()

    expected = f"Could not connect to ollama at {url} (connection refused): is the server running? Check its URL " \
               "in MOA_PROVIDERS (ollama=…)."
    assert str(caught.value) == expected
    assert str(listing.value) == expected


async def test_a_declared_provider_url_missing_v1_gets_a_hint(fake_groq: FakeGroq) -> None:
    async with ProviderRegistry(groq_api_key=None, providers={"local": (fake_groq.base_url, None)}) as registry:
        with pytest.raises(ProviderError) as caught:
            await registry.complete("local:openai/gpt-oss-20b", MESSAGES)

    assert str(caught.value) == (
        f"local answered 404 for {fake_groq.base_url}/chat/completions: check its URL in MOA_PROVIDERS — it should "
        "be the part before /chat/completions, usually ending in /v1.")
    assert not fake_groq.calls


async def test_an_unknown_model_is_still_a_missing_model_not_a_base_url_hint(fake_groq: FakeGroq) -> None:
    async with ProviderRegistry(groq_api_key="gsk_test", groq_base_url=fake_groq.base_url) as registry:
        with pytest.raises(ProviderError) as caught:
            await registry.complete("acme/never-existed", MESSAGES)

    assert "is not served by Groq" in str(caught.value)
    assert "GROQ_BASE_URL" not in str(caught.value)


async def test_a_refused_connection_is_not_retried_like_a_dropped_one(fake_groq: FakeGroq) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async with ProviderRegistry(groq_api_key="gsk_test", groq_base_url=_closed_url()) as refused:
        refused.sleep = record
        with pytest.raises(ProviderError, match="connection refused"):
            await refused.complete("openai/gpt-oss-20b", MESSAGES)
    assert waits == []

    fake_groq.fail("openai/gpt-oss-20b", 0, times=10)  # accepted, then dropped without an answer
    async with ProviderRegistry(groq_api_key="gsk_test", groq_base_url=fake_groq.base_url) as dropped:
        dropped.sleep = record
        with pytest.raises(ProviderError, match="dropped"):
            await dropped.complete("openai/gpt-oss-20b", MESSAGES)
    assert len(waits) == 3  # 4 attempts, 3 backoffs
