"""ProviderRegistry: declaring providers, routing ids, listing models, the retry policy's edges."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from moa.calls.providers import (
    GROQ_KEYS_URL,
    DeclaredProvider,
    ProviderRegistry,
    RetryPolicy,
    parse_providers,
)
from moa.errors import ConfigError, ModelUnavailable, ProviderError, ProviderUnreachable
from tests.fakes.groq_server import FakeGroq
from tests.moa.helpers import TRANSPORTS

FAST = "openai/gpt-oss-20b"
Q = [{"role": "user", "content": "q"}]


@pytest.fixture(params=TRANSPORTS)
async def registry(fake_groq: FakeGroq, request: pytest.FixtureRequest) -> AsyncIterator[ProviderRegistry]:
    reg = ProviderRegistry.from_env({"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake_groq.base_url,
                                     "MOA_HTTP_TRANSPORT": request.param},
                                    retry=RetryPolicy(max_attempts=3, backoff_base_s=0.01))
    yield reg
    await reg.aclose()


# ---- declaring and routing ---------------------------------------------------------------------------
def test_providers_are_declared_by_name_and_url() -> None:
    assert parse_providers("ollama=http://127.0.0.1:11434/v1/, together=https://api.together.xyz/v1") == {
        "ollama": DeclaredProvider("http://127.0.0.1:11434/v1"),
        "together": DeclaredProvider("https://api.together.xyz/v1")}
    assert parse_providers("") == {}


@pytest.mark.parametrize(("spec", "message"), [
    ("ollama", "must look like name=http://host:port/v1"),
    ("Bad Name=http://x/v1", "lowercase letters"),
    ("groq=http://x/v1", "built in"),
    ("ollama=ftp://x", "must start with http:// or https://"),
])
def test_bad_provider_declarations_are_rejected(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ProviderRegistry.from_env({"MOA_PROVIDERS": spec})


def test_model_ids_route_to_their_provider() -> None:
    reg = ProviderRegistry.from_env({"GROQ_API_KEY": "k", "MOA_PROVIDERS": "ollama=http://127.0.0.1:1/v1"})
    assert reg.provider_of("ollama:llama3.2:3b") == "ollama"
    assert reg.resolve("ollama:llama3.2:3b")[1] == "llama3.2:3b"
    assert reg.provider_of("openai/gpt-oss-20b") == "groq"
    assert reg.is_groq("llama-3.3-70b-versatile")
    with pytest.raises(ModelUnavailable, match="'vllm' that is not declared"):
        reg.resolve("vllm:mistral")


def test_groq_models_without_a_key_say_where_to_get_one() -> None:
    reg = ProviderRegistry.from_env({"MOA_PROVIDERS": "ollama=http://127.0.0.1:1/v1"})
    assert reg.needs_groq_key(["ollama:x", FAST])
    assert not reg.needs_groq_key(["ollama:x"])
    with pytest.raises(ProviderError, match=GROQ_KEYS_URL):
        reg.resolve(FAST)


# ---- retry knobs -------------------------------------------------------------------------------------
def test_retry_attempts_and_backoff_come_from_the_environment() -> None:
    reg = ProviderRegistry.from_env({"MOA_RETRY_ATTEMPTS": "6", "MOA_RETRY_BACKOFF": "0.25"})
    assert reg.retry == RetryPolicy(max_attempts=6, backoff_base_s=0.25)
    assert ProviderRegistry.from_env({}).retry == RetryPolicy(max_attempts=4, backoff_base_s=0.05)


def test_retry_attempts_alone_keeps_the_default_backoff() -> None:
    assert ProviderRegistry.from_env({"MOA_RETRY_ATTEMPTS": " 1 "}).retry == RetryPolicy(max_attempts=1)


def test_retry_backoff_alone_keeps_the_default_attempts() -> None:
    assert ProviderRegistry.from_env({"MOA_RETRY_BACKOFF": "2"}).retry == RetryPolicy(backoff_base_s=2.0)


def test_a_given_retry_policy_wins_over_the_environment() -> None:
    policy = RetryPolicy(max_attempts=2)
    assert ProviderRegistry.from_env({"MOA_RETRY_ATTEMPTS": "9", "MOA_RETRY_BACKOFF": "x"}, retry=policy).retry \
        is policy


@pytest.mark.parametrize(("env", "sentence"), [
    ({"MOA_RETRY_ATTEMPTS": "three"},
     "MOA_RETRY_ATTEMPTS must be a whole number of attempts per model call, 1 or more, not 'three'."),
    ({"MOA_RETRY_ATTEMPTS": "0"},
     "MOA_RETRY_ATTEMPTS must be a whole number of attempts per model call, 1 or more, not '0'."),
    ({"MOA_RETRY_BACKOFF": "-1"},
     "MOA_RETRY_BACKOFF must be the seconds before the first retry, 0 or more (e.g. 0.5), not '-1'."),
    ({"MOA_RETRY_BACKOFF": "500ms"},
     "MOA_RETRY_BACKOFF must be the seconds before the first retry, 0 or more (e.g. 0.5), not '500ms'."),
    ({"MOA_RETRY_BACKOFF": "nan"},
     "MOA_RETRY_BACKOFF must be the seconds before the first retry, 0 or more (e.g. 0.5), not 'nan'."),
])
def test_bad_retry_knobs_say_what_is_expected(env: dict[str, str], sentence: str) -> None:
    with pytest.raises(ConfigError) as err:
        ProviderRegistry.from_env(env)
    assert str(err.value) == sentence


# ---- models ------------------------------------------------------------------------------------------
async def test_live_models_are_listed_and_cached(fake_groq: FakeGroq, registry: ProviderRegistry) -> None:
    assert await registry.live_models() == sorted(fake_groq.models)
    fake_groq.models.append("new/model")
    assert "new/model" not in await registry.live_models()  # cached
    assert fake_groq.models_requests == 1
    assert "new/model" in await registry.live_models(refresh=True)


async def test_unknown_models(fake_groq: FakeGroq, registry: ProviderRegistry) -> None:
    fake_groq.decommissioned.add("openai/gpt-oss-120b")
    unknown = await registry.unknown_models([FAST, "openai/gpt-oss-120b", "nope/nope", "undeclared:x"])
    assert unknown == ["openai/gpt-oss-120b", "nope/nope", "undeclared:x"]


async def test_an_unreachable_provider_is_reported_not_guessed(fake_groq: FakeGroq) -> None:
    reg = ProviderRegistry.from_env({"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake_groq.base_url,
                                     "MOA_PROVIDERS": "ollama=http://127.0.0.1:9/v1"}, call_timeout_s=2)
    live = await reg.live_models()
    assert FAST in live and "ollama" in reg.listing_errors
    # Told apart by its type (ask exits 1 on it, run and the console refuse it), not by its sentence.
    assert isinstance(reg.listing_errors["ollama"], ProviderUnreachable)
    assert str(reg.listing_errors["ollama"]).startswith("Could not connect to ollama at http://127.0.0.1:9/v1")
    assert await reg.unknown_models(["ollama:llama3", "nope/nope"]) == ["nope/nope"]
    await reg.aclose()


# ---- calls -------------------------------------------------------------------------------------------
async def test_a_dropped_connection_is_retried(fake_groq: FakeGroq, registry: ProviderRegistry) -> None:
    fake_groq.fail(FAST, 0)
    result = await registry.complete(FAST, Q)
    assert result.text.endswith("[saw 0 answers]") and result.attempts == 2
    fake_groq.fail(FAST, 0, times=5)
    with pytest.raises(ProviderError, match=r"dropped|could not reach") as err:
        await registry.complete(FAST, Q)
    assert "did not answer within" not in str(err.value)


async def test_a_rejected_key_says_which_variable(fake_groq: FakeGroq, registry: ProviderRegistry) -> None:
    fake_groq.fail(FAST, 401)
    with pytest.raises(ProviderError, match="GROQ_API_KEY") as err:
        await registry.complete(FAST, Q)
    assert GROQ_KEYS_URL in str(err.value) and len(fake_groq.calls) == 1  # not retried


async def test_reasoning_format_refused_is_dropped_once(fake_groq: FakeGroq, registry: ProviderRegistry) -> None:
    qwen = "qwen/qwen3.8-27b"
    fake_groq.fail(qwen, 400, message="reasoning_format is not supported with this model")
    result = await registry.complete(qwen, Q)
    assert [c.reasoning_format for c in fake_groq.calls] == ["hidden", None]
    assert "<think>" not in result.text and result.text.startswith(qwen)
    await registry.complete(qwen, Q)
    assert fake_groq.calls[-1].reasoning_format is None  # remembered


async def test_5xx_gives_up_after_the_policy_s_attempts(fake_groq: FakeGroq, registry: ProviderRegistry) -> None:
    fake_groq.fail(FAST, 502, times=10)
    with pytest.raises(ProviderError, match=r"502.*3 times"):
        await registry.complete(FAST, Q)
    assert len(fake_groq.calls) == 3


async def test_streaming_collects_usage_from_x_groq(fake_groq: FakeGroq, registry: ProviderRegistry) -> None:
    pieces: list[str] = []
    result = await registry.complete(FAST, Q, on_delta=pieces.append)
    assert "".join(pieces) == result.text and len(pieces) > 2
    assert result.usage is not None and result.usage.completion_tokens > 0
    assert result.first_token_s is not None
