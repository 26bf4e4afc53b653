"""The pacer's arithmetic: declared limits, Groq's reset format, estimates, headers and the waiting line."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import httpx
import pytest

from moa.config.schema import default_config, preset
from moa.errors import ConfigError
from moa.events import Turn
from moa.messages.tokens import estimate_tokens
from moa.pace.budget import Budget, BudgetWait, Need
from moa.pace.limits import DeclaredLimits, parse_duration, parse_limits
from moa.pace.pacer import Pacer
from moa.plan.demand import answer_demand, budget_pace
from moa.plan.fitting import CallShape, fit

FAST = "openai/gpt-oss-20b"
STRONG = "openai/gpt-oss-120b"


# ---- MOA_LIMITS and Groq's formats -------------------------------------------------------------------
def test_declared_limits_read_both_spellings() -> None:
    assert parse_limits("ollama:llama3.1:8b=60rpm,openai/gpt-oss-20b=30rpm+8000tpm") == {
        "ollama:llama3.1:8b": DeclaredLimits(rpm=60), FAST: DeclaredLimits(rpm=30, tpm=8000)}
    assert parse_limits(f"{FAST}=30rpm,8000tpm") == {FAST: DeclaredLimits(rpm=30, tpm=8000)}
    assert parse_limits("  ") == {}


@pytest.mark.parametrize("spec, fix", [
    ("30rpm", "must look like model=30rpm"),
    (f"{FAST}=30 per minute", "e.g. 30rpm or 8000tpm"),
    (f"{FAST}=0tpm", "e.g. 30rpm or 8000tpm"),
    ("=30rpm", "names no model"),
])
def test_a_bad_declared_limit_says_how_to_write_it(spec: str, fix: str) -> None:
    with pytest.raises(ConfigError, match="MOA_LIMITS") as caught:
        parse_limits(spec)
    assert fix in str(caught.value)


@pytest.mark.parametrize("text, seconds", [("7.66s", 7.66), ("2m59.56s", 179.56), ("120ms", 0.12),
                                           ("1h2m", 3720.0), ("6", 6.0), ("", None), ("soon", None)])
def test_groq_reset_values_read_as_seconds(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_the_estimate_is_cautious_for_latin_and_cjk_text() -> None:
    english = [{"role": "user", "content": "What is a mixture of agents and why does it help? " * 10}]
    chinese = [{"role": "user", "content": "混合智能体如何提升大型语言模型的能力" * 10}]
    assert estimate_tokens(english) >= len(english[0]["content"].split())  # more than a word a token
    assert estimate_tokens(chinese) >= len(chinese[0]["content"])  # about a token a character


# ---- a budget ----------------------------------------------------------------------------------------
def headers(limit: int, remaining: int, reset: str) -> httpx.Headers:
    return httpx.Headers({"x-ratelimit-limit-tokens": str(limit), "x-ratelimit-remaining-tokens": str(remaining),
                          "x-ratelimit-reset-tokens": reset, "x-ratelimit-limit-requests": "14400",
                          "x-ratelimit-remaining-requests": "14399", "x-ratelimit-reset-requests": "6s"})


def test_the_window_is_learnt_from_the_reset_not_assumed() -> None:
    budget = Budget(FAST, "groq")
    assert not budget.known
    budget.observe_headers(headers(8000, 7000, "5.8s"), sent_at=0.0, now=0.1)
    assert budget.known and budget.tpm == 8000 and budget.window_s == pytest.approx(5.8)
    budget.observe_headers(headers(8000, 7000, "2m59.56s"), sent_at=1.0, now=1.1)
    assert budget.window_s == 60.0  # a "minute" is never longer than a minute


def test_usage_only_the_headers_know_of_holds_calls_back() -> None:
    # Another process sharing the key used 7,000 of 8,000: our ledger is empty, the headers are not.
    budget = Budget(FAST, "groq")
    budget.observe_headers(headers(8000, 1000, "6s"), sent_at=0.0, now=0.0)
    wait, resource = budget.wait_s(1500, now=0.1)
    assert wait > 0 and resource == "tokens"
    assert budget.wait_s(900, now=0.1)[0] == 0


def test_newer_headers_win_over_our_own_count() -> None:
    budget = Budget(FAST, "groq", DeclaredLimits(tpm=8000))
    budget.learnt_window_s = 6.0
    budget.spend(7000, now=0.0)
    assert budget.wait_s(2000, now=0.5)[0] > 0
    # The provider says only 1,000 are counted now (our estimate of the window was too long).
    budget.observe_headers(headers(8000, 7000, "1s"), sent_at=0.6, now=0.7)
    assert budget.wait_s(2000, now=0.8)[0] == 0


def test_a_429_body_teaches_the_limit_and_holds_calls_as_long_as_it_asks() -> None:
    budget = Budget(FAST, "groq")
    budget.observe_rejection("Rate limit reached for model `openai/gpt-oss-20b` in organization `org` on tokens "
                             "per minute (TPM): Limit 8000, Used 7000, Requested 1500. Please try again in "
                             "5.289s.", wait_s=6.0, now=10.0)
    assert budget.tpm == 8000
    assert budget.wait_s(100, now=10.0)[0] == pytest.approx(5.289)


def test_a_413_body_teaches_the_largest_request() -> None:
    pacer = Pacer()
    pacer.budget(FAST, "groq").observe_rejection(
        "Request too large for model `openai/gpt-oss-20b` on tokens per minute (TPM): Limit 6000, Requested "
        "9000, please reduce your message size and try again.", wait_s=None, now=0.0)
    assert pacer.largest_request(FAST) == 6000


async def _until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until `condition` holds (no clock orders them; the timeout is a safety net)."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 — the budget has no event for "a call joined the line"
            await asyncio.sleep(0)  # one turn of the loop, not a wait on the clock


async def _turns(n: int = 10) -> None:
    """Let the other tasks run a few turns of the loop (to show that something does not happen)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_waiting_calls_are_served_by_ticket_not_by_arrival() -> None:
    budget = Budget(FAST, "groq", DeclaredLimits(tpm=1000))
    budget.learnt_window_s = 0.3
    loop = asyncio.get_running_loop()
    budget.spend(1000, loop.time())  # the window is full
    order: list[int] = []

    async def call(ticket: int) -> None:
        await budget.acquire(600, ticket, None, None)
        order.append(ticket)

    late = asyncio.create_task(call(5))
    await _until(lambda: budget.waiting == 1)  # the late ticket is in line first
    early = asyncio.create_task(call(2))
    await asyncio.gather(late, early)
    assert order == [2, 5]


async def test_a_long_wait_is_told_and_told_over() -> None:
    budget = Budget(FAST, "groq", DeclaredLimits(tpm=1000))
    budget.learnt_window_s = 1.2
    budget.spend(1000, asyncio.get_running_loop().time())
    told: list[BudgetWait] = []
    await budget.acquire(500, 1, told.append, None)
    assert told[0].wait_s >= 1 and told[0].model == FAST and told[0].resource == "tokens"
    assert told[-1].wait_s == 0


async def test_earlier_answers_keep_room_for_their_next_step() -> None:
    pacer = Pacer({FAST: DeclaredLimits(tpm=1000)})
    budget = pacer.budget(FAST, "groq")
    pacer.expect(1, {FAST: 800})  # answer 1 will soon ask for 800
    second = asyncio.create_task(budget.acquire(500, 2, None, None))
    await _until(lambda: budget.waiting == 1)
    assert not second.done()  # 500 would leave answer 1 too little
    pacer.done(1)
    assert await asyncio.wait_for(second, 1) is not None


async def test_a_step_just_begun_keeps_room_until_its_calls_take_their_place_in_line() -> None:
    # Answer 1 begins a step of two 400-token calls and will ask for nothing after it. Answer 2's call,
    # waiting already, is woken by that news: it must not take the room before answer 1's calls ask.
    pacer = Pacer({FAST: DeclaredLimits(tpm=1000)})
    budget = pacer.budget(FAST, "groq")
    pacer.expect(1, {FAST: 900})
    later = asyncio.create_task(budget.acquire(400, 2, None, None))
    await _until(lambda: budget.waiting == 1)
    pacer.expect(1, {}, starting={FAST: Need(800, 2)})
    await _turns()  # answer 2 looks again now, before answer 1's calls come
    assert not later.done()
    assert await budget.acquire(400, 1, None, None) is not None
    await _turns()
    assert not later.done()  # one of answer 1's calls has still to come
    assert await budget.acquire(400, 1, None, None) is not None
    # Answer 1's calls have asked; answer 2's 400 no longer fits the window beside their 800.
    assert budget.wait_s(400, asyncio.get_running_loop().time())[0] > 0
    pacer.done(1)
    later.cancel()


async def test_before_the_limits_are_known_only_one_answer_goes() -> None:
    budget = Budget(FAST, "groq")
    assert await budget.acquire(500, 1, None, None) is None  # the probe
    assert await budget.acquire(500, 1, None, None) is None  # the same answer's other call
    other = asyncio.create_task(budget.acquire(500, 2, None, None))
    hedge = await asyncio.wait_for(budget.acquire(500, 3, None, None, hedge=True), 1)
    assert hedge is None and not other.done()
    budget.observe_headers(httpx.Headers({}), sent_at=0.0, now=0.0)  # the provider sends no limits
    assert await asyncio.wait_for(other, 1) is None


async def test_an_admitted_answer_counts_against_the_next_until_its_calls_have_asked() -> None:
    pacer = Pacer({FAST: DeclaredLimits(tpm=1000)})
    woken: list[str] = []
    pacer.watch(lambda: woken.append("room?"))
    assert pacer.room_s({FAST: Need(600, 1)}) == 0
    first = pacer.claim({FAST: Need(600, 1)})
    assert pacer.room_s({FAST: Need(600, 1)}) == math.inf  # 600 + 600 would not fit one window
    assert await pacer.budget(FAST, "groq").acquire(600, first, None, None) is not None
    await asyncio.sleep(0)
    assert woken and pacer.room_s({FAST: Need(400, 1)}) == 0  # asked for: the window's arithmetic takes over
    pacer.done(first)


async def test_a_request_budget_lets_in_as_many_answers_as_its_calls_fit() -> None:
    pacer = Pacer({FAST: DeclaredLimits(rpm=30)})
    for _ in range(3):  # three answers of ten calls fill thirty requests
        assert pacer.room_s({FAST: Need(500, 10)}) == 0
        pacer.claim({FAST: Need(500, 10)})
    assert pacer.room_s({FAST: Need(500, 10)}) == math.inf


async def test_no_answer_is_let_in_beyond_the_floor_while_a_models_limits_are_unknown_or_calls_wait() -> None:
    pacer = Pacer()
    assert pacer.room_s({FAST: Need(100, 1)}) == math.inf  # no response yet told the limits
    budget = pacer.budget(FAST, "groq")
    now = asyncio.get_running_loop().time()
    budget.observe_headers(httpx.Headers({"x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "0",
                                          "x-ratelimit-reset-tokens": "0.3s"}), sent_at=now, now=now)
    waiting = asyncio.create_task(budget.acquire(500, 1, None, None))
    await _until(lambda: budget.waiting == 1)
    assert pacer.room_s({FAST: Need(100, 1)}) == math.inf  # an earlier answer's call waits for this budget
    await asyncio.wait_for(waiting, 2)
    assert pacer.room_s({FAST: Need(100, 1)}) == 0


# ---- fitting and planning ----------------------------------------------------------------------------
def test_trimming_cuts_max_tokens_then_history_then_earlier_answers() -> None:
    history = tuple(Turn("user", "old words " * 100) for _ in range(4))
    shape = CallShape("Agent. {helper_response}", "Synthesize:", ("an answer " * 400,) * 3, "q", history, 1024)
    fitted = fit(shape, 1000, who="Agent a", model=FAST)
    assert fitted.trimmed is not None
    assert "max_tokens lowered from 1,024 to 256" in fitted.trimmed
    assert "the 4 oldest of its 4 history messages left out" in fitted.trimmed
    assert "earlier answers shortened" in fitted.trimmed
    assert estimate_tokens(fitted.messages) + fitted.max_tokens <= 1000
    assert fit(shape, None, who="Agent a", model=FAST).trimmed is None


def test_show_tells_calls_tokens_and_the_pace_the_known_limits_allow() -> None:
    demand = answer_demand(default_config())
    assert sum(d.calls for d in demand.values()) == default_config().call_count
    assert budget_pace(demand, Pacer()) is None
    pace = budget_pace(demand, Pacer({FAST: DeclaredLimits(tpm=demand[FAST].tokens // 2)}))
    assert pace is not None and pace.model == FAST and pace.answers_per_window == pytest.approx(0.5, abs=0.01)
    lite = answer_demand(preset("lite"))
    assert sum(d.calls for d in lite.values()) == 3
