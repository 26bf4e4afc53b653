"""moa.calls.retry: what to do about each kind of failed attempt, decided without a network or a clock."""

from __future__ import annotations

from typing import Any, cast

import groq
import httpx
import pytest
from groq import AsyncGroq

from moa.calls.providers import Provider
from moa.calls.retry import (
    CallRetries,
    Decision,
    DropReasoningFormat,
    FailedAttempt,
    GiveUp,
    ModelMissing,
    Retry,
    RetryPolicy,
    ShrinkMaxTokens,
)
from moa.errors import ProviderError

MODEL = "openai/gpt-oss-20b"
GROQ = Provider("groq", "https://api.groq.com", cast(AsyncGroq, None))  # decisions never call the client
OLLAMA = Provider("ollama", "http://127.0.0.1:11434/v1", cast(AsyncGroq, None))
POLICY = RetryPolicy(max_attempts=3, max_rate_limit_waits=2, backoff_base_s=1.0, backoff_max_s=8.0)
REQUEST = httpx.Request("POST", "http://fake/chat/completions")


def status(code: int, message: str = "", *, error_code: str = "", headers: dict[str, str] | None = None
           ) -> groq.APIStatusError:
    body = {"error": {"message": message, "code": error_code}} if message or error_code else None
    return groq.APIStatusError("failed", response=httpx.Response(code, headers=headers, request=REQUEST),
                               body=body)


def failed(error: BaseException, *, provider: Provider = GROQ, mid_answer: bool = False,
           elapsed_s: float = 0.01, max_tokens: Any = None, asked_reasoning_format: bool = False
           ) -> FailedAttempt:
    return FailedAttempt(error=error, model=MODEL, provider=provider, mid_answer=mid_answer,
                         elapsed_s=elapsed_s, budget_s=10.0, timeout_s=10.0, max_tokens=max_tokens,
                         asked_reasoning_format=asked_reasoning_format)


def gives_up(decision: Decision) -> ProviderError:
    assert isinstance(decision, GiveUp), decision
    return decision.error


# ---- 429 ---------------------------------------------------------------------------------------------
def test_429_beyond_the_deadline_fails_at_once_saying_how_long() -> None:
    retries = CallRetries(POLICY)
    error = gives_up(retries.decide(failed(status(429, headers={"retry-after": "120"})), left_s=30))
    assert str(error) == (f"{MODEL} is rate-limited: Groq asks to wait 120 s, more than the 30 s left for this "
                          "answer. Try again later.")
    assert error.status == 429


def test_429_waits_what_retry_after_asks_a_bounded_number_of_times() -> None:
    retries = CallRetries(POLICY)
    limited = failed(status(429, headers={"retry-after": "90"}))
    assert retries.decide(limited, left_s=300) == Retry(90.0)  # beyond the SDK's 60 s cap
    assert retries.decide(limited, left_s=300) == Retry(90.0)
    error = gives_up(retries.decide(limited, left_s=300))
    assert str(error) == f"{MODEL} is still rate-limited after 2 waits; try again later."


def test_429_without_retry_after_backs_off() -> None:
    decision = CallRetries(POLICY).decide(failed(status(429)), left_s=300)
    assert isinstance(decision, Retry) and 0.75 <= decision.wait_s <= 1.25


# ---- transient failures ------------------------------------------------------------------------------
def test_498_backs_off_exponentially_then_gives_up() -> None:
    retries = CallRetries(POLICY)
    over_capacity = failed(status(498))
    first, second = (retries.decide(over_capacity, left_s=300) for _ in range(2))
    assert isinstance(first, Retry) and 0.75 <= first.wait_s <= 1.25
    assert isinstance(second, Retry) and 1.5 <= second.wait_s <= 2.5
    error = gives_up(retries.decide(over_capacity, left_s=300))
    assert str(error) == f"{MODEL} is over capacity (498), 3 times; giving up." and error.status == 498


def test_a_backoff_past_the_deadline_gives_up() -> None:
    error = gives_up(CallRetries(POLICY).decide(failed(status(503, "busy")), left_s=0.5))
    assert str(error) == f"{MODEL} failed (503: busy), and the run's time limit leaves no time to retry."


@pytest.mark.parametrize("code", [500, 502, 503, 408, 409])
def test_server_errors_are_transient(code: int) -> None:
    assert isinstance(CallRetries(POLICY).decide(failed(status(code)), left_s=300), Retry)


def test_a_timeout_is_told_from_a_dropped_connection() -> None:
    retries = CallRetries(RetryPolicy(max_attempts=1))
    slow = gives_up(retries.decide(failed(TimeoutError(), elapsed_s=9.5), left_s=300))
    assert str(slow) == f"{MODEL} did not answer within 10 s, once; giving up."
    dropped = gives_up(CallRetries(RetryPolicy(max_attempts=1)).decide(failed(TimeoutError()), left_s=300))
    assert str(dropped) == f"the connection to Groq dropped while waiting for {MODEL}, once; giving up."


def test_an_unreachable_provider_is_named_by_its_url() -> None:
    error = gives_up(CallRetries(RetryPolicy(max_attempts=1)).decide(
        failed(groq.APIConnectionError(request=REQUEST), provider=OLLAMA), left_s=300))
    assert str(error).startswith(f"could not reach http://127.0.0.1:11434/v1 for {MODEL} (Connection error)")


def test_nothing_is_retried_once_part_of_the_answer_was_shown() -> None:
    for error in (status(503, "busy"), status(429), TimeoutError(), httpx.ReadError("reset")):
        assert "mid-answer" in str(gives_up(CallRetries(POLICY).decide(failed(error, mid_answer=True), 300)))
    stalled = gives_up(CallRetries(POLICY).decide(failed(TimeoutError(), mid_answer=True, elapsed_s=10), 300))
    assert str(stalled) == f"{MODEL} stopped sending its answer for 10 s."


# ---- changing the request ----------------------------------------------------------------------------
def test_413_shrinks_max_tokens_once_then_fails() -> None:
    retries = CallRetries(POLICY)
    too_large = status(413, "Limit 8000, Requested 12000")
    assert retries.decide(failed(too_large, max_tokens=8192), left_s=300) == ShrinkMaxTokens(8192 - 4000 - 16)
    error = gives_up(retries.decide(failed(too_large, max_tokens=4176), left_s=300))
    assert str(error) == (f"The request to {MODEL} is larger than Groq accepts (Limit 8000, Requested 12000): "
                          "use fewer layers or agents, a shorter question or history, or a lower max_tokens.")


def test_a_refused_reasoning_format_is_dropped_only_when_it_was_asked_for() -> None:
    refused = status(400, "reasoning_format is not supported with this model")
    assert CallRetries(POLICY).decide(failed(refused, asked_reasoning_format=True), 300) == DropReasoningFormat()
    assert isinstance(CallRetries(POLICY).decide(failed(refused), 300), GiveUp)


# ---- failing at once ---------------------------------------------------------------------------------
def test_a_missing_model_is_left_to_the_registry() -> None:
    gone = status(400, "The model has been decommissioned", error_code="model_decommissioned")
    assert CallRetries(POLICY).decide(failed(gone), 300) == ModelMissing(400, "model_decommissioned")
    assert CallRetries(POLICY).decide(failed(status(404, "model `x` not found")), 300) == ModelMissing(404, "")


def test_a_refused_key_names_the_variable() -> None:
    groq_key = gives_up(CallRetries(POLICY).decide(failed(status(401, "Invalid API Key")), 300))
    assert str(groq_key) == ("Groq refused the API key (401: Invalid API Key); check GROQ_API_KEY "
                             "(get one at https://console.groq.com/keys).")
    ollama_key = gives_up(CallRetries(POLICY).decide(failed(status(403), provider=OLLAMA), 300))
    assert str(ollama_key) == "ollama refused the API key (403: HTTP 403); check MOA_PROVIDER_OLLAMA_API_KEY."


def test_other_client_errors_fail_at_once() -> None:
    error = gives_up(CallRetries(POLICY).decide(failed(status(422, "messages: required")), 300))
    assert str(error) == f"{MODEL} failed (422: messages: required)." and error.status == 422


def test_a_call_that_hears_nothing_is_tried_once_more_at_most() -> None:
    retries = CallRetries(RetryPolicy(max_attempts=4))  # room for more, yet silence is retried once
    assert isinstance(retries.decide(failed(TimeoutError(), elapsed_s=10), left_s=300), Retry)
    error = gives_up(retries.decide(failed(TimeoutError(), elapsed_s=10), left_s=300))
    assert str(error).startswith(f"{MODEL} did not answer within 10 s, twice; giving up")


def test_silence_is_not_retried_when_less_than_a_call_timeout_is_left() -> None:
    error = gives_up(CallRetries(POLICY).decide(failed(TimeoutError(), elapsed_s=10), left_s=4))
    assert "leaves no time to retry" in str(error)


@pytest.mark.parametrize("headers", [{"retry-after": "999999"}, {"retry-after": "inf"},
                                     {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, {"retry-after-ms": "1e308"}])
def test_a_429_asking_for_an_endless_wait_backs_off_and_says_what_it_asked(headers: dict[str, str]) -> None:
    retries = CallRetries(POLICY)
    limited = failed(status(429, headers=headers))
    for _ in range(POLICY.max_rate_limit_waits):
        decision = retries.decide(limited, left_s=300)
        assert isinstance(decision, Retry) and decision.wait_s <= POLICY.backoff_max_s * 1.25
    error = gives_up(retries.decide(limited, left_s=300))
    assert "still rate-limited" in str(error) and "asked to wait" in str(error)
