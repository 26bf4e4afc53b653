"""Reading Groq / OpenAI-compatible responses and errors: answer text, usage, error codes and messages,
`retry-after`, and the max_tokens a 413 leaves room for.

Responses are plain JSON (dicts), not the SDK's typed models: see `ProviderRegistry._attempt` for why.
Every function here is pure and never raises on a malformed body; it answers with an empty value.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from typing import Any

import groq
import httpx

from moa.events import Usage
from moa.figures import count

_TOO_LARGE = re.compile(r"Limit\s+(\d+),\s*Requested\s+(\d+)", re.IGNORECASE)


def field(obj: Any, key: str) -> Any:
    """`obj[key]` when `obj` is a dict, else None (a JSON body may be any shape)."""
    return obj.get(key) if isinstance(obj, dict) else None


def message_content(response: Any) -> str:
    """The first choice's message content of a chat.completion (reasoning fields are ignored)."""
    choices = field(response, "choices") or []
    content = field(field(choices[0], "message"), "content") if choices else None
    return content if isinstance(content, str) else ""


# More tokens than any one call can hold (context windows are far smaller): a figure beyond is no count.
MOST_CALL_TOKENS = 10**7


def parse_usage(raw: Any) -> Usage | None:
    """A `usage` object as Usage; None when absent or impossible, so the call is estimated from its text
    (`moa.calls.counting`, marked ≈) rather than counted as 0 tokens and $0."""
    if not isinstance(raw, dict):
        return None
    prompt = _tokens(raw.get("prompt_tokens"))
    completion = _tokens(raw.get("completion_tokens"))
    if prompt is None or completion is None:  # missing, negative, 1e30, "many": the server did not count it
        return None
    # Groq and OpenAI-compatible servers report the cached share as prompt_tokens_details.cached_tokens.
    cached = _tokens(field(raw.get("prompt_tokens_details"), "cached_tokens")) or 0
    return Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=min(cached, prompt))


def _tokens(raw: Any) -> int | None:
    found = count(raw)
    return found if found is not None and found <= MOST_CALL_TOKENS else None


def finish_reason(response: Any) -> str | None:
    """The first choice's `finish_reason` ("stop", "length", …) of a completion or chunk; None when absent."""
    choices = field(response, "choices") or []
    reason = field(choices[0], "finish_reason") if choices else None
    return reason if isinstance(reason, str) else None


def _error_object(err: groq.APIStatusError) -> Mapping[str, Any]:
    # Providers disagree on the shape: {"error": {...}}, {"error": "text"}, a bare object or plain text.
    body = err.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            return inner
        if isinstance(inner, str):
            return {"message": inner}
    if isinstance(body, str):
        return {"message": body}
    return {}


def error_code(err: groq.APIStatusError) -> str:
    """The error's `code` (e.g. "model_decommissioned"); "" when it has none."""
    return str(_error_object(err).get("code") or "")


def error_message(err: groq.APIStatusError) -> str:
    """The error's message, or "HTTP <status>" when the body has none."""
    message = _error_object(err).get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()
    return f"HTTP {err.status_code}"


def describe_error(err: BaseException) -> str:
    """A short description of any exception a call may raise, for a user-facing sentence."""
    if isinstance(err, groq.APIStatusError):
        text = f"{err.status_code}: {error_message(err)}"
    elif isinstance(err, groq.APIError):
        text = err.message
    else:
        text = str(err) or type(err).__name__
    return text.rstrip(". ")  # it is placed inside our own sentences


def is_model_missing(status: int, code: str, message: str) -> bool:
    """True when an error says the model is decommissioned or unknown."""
    if code in ("model_decommissioned", "model_not_found"):
        return True
    lowered = message.lower()
    return status in (400, 404) and "model" in lowered and (
        "not found" in lowered or "does not exist" in lowered or "decommissioned" in lowered)


def retry_after_s(headers: httpx.Headers) -> float | None:
    """Seconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date; None when absent or
    unreadable (NaN included). May be huge or infinite: callers judge the figure (moa.figures.seconds)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000
            if not math.isnan(value):
                return max(0.0, value)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return None if math.isnan(value) else max(0.0, value)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))
    except (ValueError, OverflowError, TypeError, IndexError):  # a date no calendar has
        return None


def smaller_max_tokens(current: Any, message: str) -> int | None:
    """A max_tokens that fits the limit a 413 names, or half the current one; None when that can't help."""
    if not isinstance(current, int):
        return None
    match = _TOO_LARGE.search(message)
    limit, requested = (count(match.group(1)), count(match.group(2))) if match else (None, None)
    # A little headroom below the limit the 413 names; half the current one when it names none.
    new = current - (requested - limit) - 16 if limit is not None and requested is not None else current // 2
    return new if new >= 64 and new < current else None
