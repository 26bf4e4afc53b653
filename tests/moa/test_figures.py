"""Figures a provider sends, sane or not: the parsers never raise, and the budget's arithmetic stays finite,
bounded, and forgets a wrong figure at the next sane response."""

from __future__ import annotations

import math

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moa.calls.wire import parse_usage, retry_after_s, smaller_max_tokens
from moa.figures import MOST_COUNT, MOST_HOLD_S, count
from moa.pace.budget import DEFAULT_WINDOW_S, Budget
from moa.pace.limits import parse_duration, try_again_s

FAST = "openai/gpt-oss-20b"
HEADERS = ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
           "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
# Worse than random text: the figures the probe found, and numbers of every size.
HOSTILE = ["0", "-1", "-0", "nan", "NaN", "inf", "-inf", "1e308", "1e999", "1733131200", "999999999s",
           "999999", "Fri, 31 Dec 9999 23:59:59 GMT", "9" * 5000, "", " ", "1.5", "2m59.56s", "0.000001ms"]
figure = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.integers(min_value=-10**30, max_value=10**30).map(str),
                   st.tuples(st.integers(0, 10**12), st.sampled_from(["ms", "s", "m", "h"]))
                   .map(lambda t: f"{t[0]}{t[1]}"))
# Bodies shaped like Groq's 429 / 413, with any numbers in them.
number = st.one_of(st.integers(min_value=-10**20, max_value=10**20).map(str), st.sampled_from(HOSTILE))
body = st.one_of(st.text(max_size=80), st.builds(
    lambda kind, limit, used, asked, wait: f"Rate limit reached on tokens per minute ({kind}): Limit {limit}, "
                                           f"Used {used}, Requested {asked}. Please try again in {wait}.",
    st.sampled_from(["TPM", "RPM", "TPD", "RPD"]), number, number, number, figure))


def wire(headers: dict[str, str]) -> httpx.Headers:
    """Headers as they come off the wire (bytes: any text a server may send)."""
    return httpx.Headers({k: v.encode("utf-8") for k, v in headers.items()})


SANE = httpx.Headers({"x-ratelimit-limit-tokens": "8000", "x-ratelimit-remaining-tokens": "8000",
                      "x-ratelimit-reset-tokens": "1s", "x-ratelimit-limit-requests": "14400",
                      "x-ratelimit-remaining-requests": "14399", "x-ratelimit-reset-requests": "6s"})


@given(figure)
def test_a_reset_reads_as_a_finite_wait_or_none(text: str) -> None:
    value = parse_duration(text)
    assert value is None or (math.isfinite(value) and value >= 0)


@given(st.one_of(figure, st.floats(), st.integers(), st.none(), st.booleans()))
def test_a_count_is_a_whole_number_within_sense_or_none(raw: object) -> None:
    value = count(raw)
    assert value is None or (isinstance(value, int) and 0 <= value <= MOST_COUNT)


@given(body)
def test_a_rejection_body_never_breaks_its_readers(message: str) -> None:
    wait = try_again_s(message)
    assert wait is None or (math.isfinite(wait) and wait >= 0)
    smaller = smaller_max_tokens(4096, message)
    assert smaller is None or 64 <= smaller < 4096


@given(figure, figure)
def test_retry_after_is_never_nan_and_never_raises(after: str, after_ms: str) -> None:
    value = retry_after_s(wire({"retry-after": after, "retry-after-ms": after_ms}))
    assert value is None or value >= 0


@given(st.dictionaries(st.sampled_from(["prompt_tokens", "completion_tokens"]),
                       st.one_of(st.floats(), st.integers(), st.text(max_size=10), st.none())))
def test_usage_counts_are_whole_and_bounded_or_absent(raw: dict[str, object]) -> None:
    """An impossible figure is no figure (None: the call is then estimated from its text), never 0."""
    usage = parse_usage(raw)
    assert usage is None or (0 <= usage.prompt_tokens <= MOST_COUNT and 0 <= usage.completion_tokens <= MOST_COUNT)


@settings(max_examples=300)
@given(st.lists(st.one_of(st.dictionaries(st.sampled_from(HEADERS), figure).map(lambda h: ("headers", h)),
                          st.tuples(body, st.one_of(st.none(), st.floats())).map(lambda b: ("body", b))),
                min_size=1, max_size=4),
       st.integers(min_value=1, max_value=10**6))
def test_any_figures_leave_a_bounded_wait_that_the_next_sane_response_shortens(
        responses: list[tuple[str, object]], tokens: int) -> None:
    budget = Budget(FAST, "groq")
    now = 0.0
    for kind, what in responses:
        now += 0.5
        if kind == "headers":
            assert isinstance(what, dict)
            budget.observe_headers(wire(what), sent_at=now - 0.1, now=now)
        else:
            assert isinstance(what, tuple)
            budget.observe_rejection(what[0], what[1], now, sent_at=now - 0.1)
        wait, _ = budget.wait_s(tokens, now)
        # At most a day's hold, plus a window for each limit's worth the call asks beyond the limit.
        assert math.isfinite(wait) and 0 <= wait <= MOST_HOLD_S + 60 * 1.1 * (1 + tokens)
    # A call sent now is answered with sane headers: no day-long hold is left, only what a sane
    # requests-per-minute figure from a body asks (its window, and others' share for one more).
    budget.observe_headers(SANE, sent_at=now + 0.1, now=now + 0.2)
    assert budget.wait_s(100, now + 0.3)[0] <= 2.2 * DEFAULT_WINDOW_S


@pytest.mark.parametrize("headers", [
    {"x-ratelimit-limit-tokens": "inf", "x-ratelimit-remaining-tokens": "inf"},
    {"x-ratelimit-limit-tokens": "8000", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1e308"},
    {"x-ratelimit-limit-tokens": "8000", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1733131200"},
    {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "999999999s"},
])
def test_an_insane_header_holds_nothing(headers: dict[str, str]) -> None:
    budget = Budget(FAST, "groq")
    budget.observe_headers(httpx.Headers(headers), sent_at=0.0, now=0.1)
    assert budget.wait_s(1000, 0.2)[0] == 0


@pytest.mark.parametrize("message, retry_after", [
    ("Rate limit reached (TPM): Limit 0, Used 0, Requested 900. Please try again in 5.289s.", None),
    ("Rate limit reached (RPM): Limit 0, Used 3, Requested 1.", None),
    ("Request too large (TPM): Limit 0, Requested 9000.", None),
    ("Rate limit reached.", 999999.0),
    ("Rate limit reached.", math.inf),
])
def test_an_insane_rejection_divides_by_nothing_and_holds_no_later_call(message: str,
                                                                        retry_after: float | None) -> None:
    budget = Budget(FAST, "groq")
    budget.observe_rejection(message, retry_after, now=1.0, sent_at=0.9)
    wait, _ = budget.wait_s(1000, 1.0 + 6.0)
    assert wait == 0
