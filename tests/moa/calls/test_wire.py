"""moa.calls.wire: reading responses and errors, `retry-after`, the max_tokens a 413 leaves room for."""

from __future__ import annotations

import email.utils
import time

import groq
import httpx

from moa.calls.wire import (
    describe_error,
    error_code,
    error_message,
    is_model_missing,
    message_content,
    parse_usage,
    retry_after_s,
    smaller_max_tokens,
)
from moa.events import Usage


def status_error(status: int, body: object) -> groq.APIStatusError:
    response = httpx.Response(status, request=httpx.Request("POST", "http://fake/chat/completions"))
    return groq.APIStatusError("failed", response=response, body=body)


def test_retry_after_forms() -> None:
    assert retry_after_s(httpx.Headers({"retry-after": "2.5"})) == 2.5
    assert retry_after_s(httpx.Headers({"retry-after": "90"})) == 90.0
    assert retry_after_s(httpx.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 115 < (retry_after_s(httpx.Headers({"retry-after": when})) or 0) <= 120
    assert retry_after_s(httpx.Headers({})) is None


def test_413_shrinks_max_tokens_to_fit() -> None:
    assert smaller_max_tokens(8192, "Limit 8000, Requested 12000") == 8192 - 4000 - 16
    assert smaller_max_tokens(1024, "Limit 8000, Requested 12000") is None  # cannot fit
    assert smaller_max_tokens(2048, "Request Entity Too Large") == 1024
    assert smaller_max_tokens(None, "Limit 8000, Requested 12000") is None


def test_answer_text_and_usage_from_a_plain_json_response() -> None:
    response = {"choices": [{"message": {"content": "hi", "reasoning": "hidden"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 5}}
    assert message_content(response) == "hi"
    assert parse_usage(response["usage"]) == Usage(prompt_tokens=3, completion_tokens=5)
    assert message_content({"choices": []}) == "" and message_content("not json") == ""
    assert parse_usage(None) is None


def test_error_bodies_of_every_shape() -> None:
    groq_style = status_error(400, {"error": {"message": " gone ", "code": "model_decommissioned"}})
    assert (error_code(groq_style), error_message(groq_style)) == ("model_decommissioned", "gone")
    assert error_message(status_error(502, {"error": "bad gateway"})) == "bad gateway"
    assert error_message(status_error(502, "upstream down")) == "upstream down"
    assert error_message(status_error(503, None)) == "HTTP 503" and error_code(status_error(503, None)) == ""
    assert describe_error(groq_style) == "400: gone"
    assert describe_error(ValueError()) == "ValueError"


def test_a_missing_model_is_recognised_by_code_or_message() -> None:
    assert is_model_missing(400, "model_decommissioned", "")
    assert is_model_missing(404, "", "The model `x` does not exist")
    assert not is_model_missing(500, "", "model not found")  # a 5xx is the server's trouble
    assert not is_model_missing(400, "", "messages must not be empty")
