"""Pacing model calls within each model's rate limits, instead of sending them and bouncing on 429.

Groq (and some OpenAI-compatible servers) limit each model per organisation: requests and tokens per
minute. A request counts its prompt plus the `max_tokens` it asks for, up front.
One `Budget` per model id (as configured, provider prefix included):

- its limits are learnt from every response's `x-ratelimit-*` headers (`…-tokens` per minute; the
  length of that "minute" from `…-reset-tokens`) and from 429 / 413 bodies ("(TPM): Limit 8000, Used
  7000, Requested 1500. Please try again in 5.289s."), or declared with MOA_LIMITS for providers that
  send none;
- before a call, `Pacer.acquire` estimates its cost and waits locally until the budget has room;
- callers that wait are served by ticket — one ticket per answer, in arrival order — so answers
  competing for one budget finish first come, first served.

Several processes may share one key: the headers say what the whole organisation has used, so the
latest headers win over the local count (usage the headers know of and this process does not is held
until their reset; usage the headers no longer count is forgotten).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from moa.figures import MOST_HOLD_S, count, seconds
from moa.pace.limits import DeclaredLimits, parse_duration, try_again_s

Resource = Literal["tokens", "requests"]
DEFAULT_WINDOW_S = 60.0
# Below this, a wait is not worth telling anyone about.
TELL_AFTER_S = 1.0

_BODY_LIMIT = re.compile(r"\((TPM|RPM|TPD|RPD)\):\s*Limit\s+(\d+)", re.IGNORECASE)
_BODY_USED = re.compile(r"\((TPM|RPM)\):\s*Limit\s+(\d+),\s*Used\s+(\d+)", re.IGNORECASE)


class Need(NamedTuple):
    """What an answer asks of one model's budget: tokens (prompt + max_tokens, as Groq counts) and calls."""

    tokens: int
    calls: int


@dataclass(frozen=True)
class BudgetWait:
    """A call is waiting for a model's budget: about `wait_s` seconds for `resource`."""

    model: str
    provider: str
    resource: Resource
    wait_s: float  # 0: the wait is over
    waiter: int = 0  # tells apart several calls waiting for one model


class _Ledger:
    """What this process sent in the current window: (time, amount), oldest first."""

    def __init__(self) -> None:
        self.entries: deque[tuple[float, int]] = deque()

    def prune(self, now: float, window: float) -> None:
        while self.entries and self.entries[0][0] + window <= now:
            self.entries.popleft()

    def used(self, since: float = -math.inf, until: float = math.inf) -> int:
        return sum(n for t, n in self.entries if since < t <= until)

    def refund(self, at: float, amount: int) -> None:
        with contextlib.suppress(ValueError):
            self.entries.remove((at, amount))


class _Limit:
    """One limited resource of one model (tokens or requests per window)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.ledger = _Ledger()
        self.others = 0  # used by other processes (the headers know it, our ledger does not)
        self.others_until = 0.0

    def used(self, now: float) -> int:
        others = self.others if now < self.others_until else 0
        return self.ledger.used() + others

    def wait_s(self, amount: int, now: float, window: float) -> float:
        """Seconds until `amount` more fits; for more than the whole limit, until the window is empty
        plus a window for each further limit's worth."""
        if self.limit is None or self.limit <= 0:  # figures are checked where read; never divide by 0
            return 0.0
        self.ledger.prune(now, window)
        if self.used(now) + amount <= self.limit:
            return 0.0
        extra = max(0, amount - self.limit)
        need = min(amount, self.limit)
        # Candidate moments: when each ledger entry leaves the window, and when others' usage ends.
        moments = sorted({t + window for t, _ in self.ledger.entries} | {self.others_until})
        for moment in moments:
            if moment <= now:
                continue
            left = self.ledger.used(since=moment - window)
            others = self.others if moment < self.others_until else 0
            if left + others + need <= self.limit:
                return moment - now + window * (extra / self.limit)
        return window * (1 + extra / self.limit)

    def observe(self, limit: int, remaining: int, reset_s: float | None, sent_at: float, now: float,
                window: float) -> None:
        """Trust what the provider says the organisation has used (as of when the request arrived)."""
        self.limit = limit
        used_org = max(0, limit - remaining)
        self.ledger.prune(now, window)
        ours = self.ledger.used(until=sent_at)
        # The headers no longer count some of ours: our window estimate was too long, forget them.
        while ours > used_org and self.ledger.entries and self.ledger.entries[0][0] <= sent_at:
            ours -= self.ledger.entries.popleft()[1]
        self.others = max(0, used_org - ours)
        # Others who sent lately are likely to go on sending: keep their share for a window past the
        # reset, unless newer headers say otherwise (they replace this estimate).
        self.others_until = now + (reset_s if reset_s is not None else window) + window


@dataclass(eq=False)
class _Waiter:
    ticket: int
    seq: int
    tokens: int
    wake: asyncio.Event

    def __lt__(self, other: _Waiter) -> bool:
        return (self.ticket, self.seq) < (other.ticket, other.seq)


class Budget:
    """The rate limits of one model, what was sent against them, and who waits for room, by ticket."""

    def __init__(self, model: str, provider: str, declared: DeclaredLimits | None = None,
                 reserved: Callable[[int, str], int] | None = None,
                 changed: Callable[[], None] | None = None,
                 arrived: Callable[[int, str, int], None] | None = None) -> None:
        self.model = model
        self.provider = provider
        # Tokens earlier answers (lower tickets) will soon ask this model for: kept free for them.
        self._reserved = reserved or (lambda ticket, model: 0)
        self._changed = changed or (lambda: None)  # room may have changed (admission looks again)
        self._arrived = arrived or (lambda ticket, model, tokens: None)  # a ticket's call asks for room
        declared = declared or DeclaredLimits()
        self.tokens = _Limit(declared.tpm)
        self.requests = _Limit(declared.rpm)
        self.learnt_window_s: float | None = None
        self.hold_until = 0.0  # after a 429: the provider asked us to wait until then
        self._held_at = 0.0  # when hold_until was last pushed later (a response to a later call ends it)
        # Until a first response tells the limits, only one answer's calls go (a "probe"): a cold start
        # of many answers at once would otherwise bounce on limits it could have known.
        self.seen_response = False
        self._probing: int | None = None  # the ticket whose calls probe
        self._probe_over = asyncio.Event()
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()

    @property
    def window_s(self) -> float:
        return self.learnt_window_s or DEFAULT_WINDOW_S

    @property
    def _ledger_window(self) -> float:
        # Our entries carry the time we sent, the provider's the time it received: keep ours a little
        # longer, or a call sent the moment an entry leaves our window arrives before it left theirs.
        return self.window_s * 1.02 + 0.05

    @property
    def known(self) -> bool:
        return self.tokens.limit is not None or self.requests.limit is not None

    @property
    def tpm(self) -> int | None:
        return self.tokens.limit

    @property
    def rpm(self) -> int | None:
        return self.requests.limit

    def wait_s(self, tokens: int, now: float) -> tuple[float, Resource]:
        """Seconds until a call of `tokens` may go, and which limit holds it."""
        window = self._ledger_window
        by_tokens = self.tokens.wait_s(tokens, now, window)
        by_requests = self.requests.wait_s(1, now, window)
        held = max(0.0, self.hold_until - now)
        wait = max(by_tokens, by_requests, held)
        resource: Resource = "requests" if by_requests >= by_tokens and by_requests > 0 else "tokens"
        return wait, resource

    def spend(self, tokens: int, now: float) -> tuple[float, int]:
        self.tokens.ledger.entries.append((now, tokens))
        self.requests.ledger.entries.append((now, 1))
        return now, tokens

    def refund(self, spent: tuple[float, int]) -> None:
        """A call the provider refused (429, 413, 5xx) did not count: give its share back."""
        at, tokens = spent
        self.tokens.ledger.refund(at, tokens)
        self.requests.ledger.refund(at, 1)
        self._wake_head()

    def credit_cached(self, spent: tuple[float, int], cached: int) -> None:
        """A call's prompt was partly served from the provider's prefix cache: Groq does not count
        cached tokens against tokens per minute, so neither does the ledger."""
        at, tokens = spent
        cached = min(max(0, cached), tokens)
        if not cached:
            return
        entries = self.tokens.ledger.entries
        with contextlib.suppress(ValueError):
            entries[entries.index((at, tokens))] = (at, tokens - cached)
            self._wake_head()

    def observe_headers(self, headers: Mapping[str, str], sent_at: float, now: float) -> None:
        """Learn from a response's `x-ratelimit-*` headers (tokens per window; requests per day)."""
        self.seen_response = True
        self.attempt_over()
        if sent_at >= self._held_at:  # the provider answered a call sent after it asked us to hold
            self.hold_until = min(self.hold_until, now)
        limit, remaining = _int(headers.get("x-ratelimit-limit-tokens"), least=1), _int(
            headers.get("x-ratelimit-remaining-tokens"))
        raw_reset = headers.get("x-ratelimit-reset-tokens") or ""
        reset = seconds(parse_duration(raw_reset), MOST_HOLD_S)
        if raw_reset.strip() and reset is None:
            limit = None  # a minute budget that resets in a year (or never): this response's figures are noise
        elif reset is not None:
            reset = min(reset, DEFAULT_WINDOW_S)  # a window's reset comes within the window
        if reset is not None and reset > 0:
            # The reset is at most one window long: the longest seen is the best guess of the window.
            self.learnt_window_s = min(DEFAULT_WINDOW_S, max(self.learnt_window_s or 0.0, reset))
        if limit is not None and remaining is not None:
            self.tokens.observe(limit, min(remaining, limit), reset, sent_at, now, self._ledger_window)
        day_left = _int(headers.get("x-ratelimit-remaining-requests"))
        day_reset = seconds(parse_duration(headers.get("x-ratelimit-reset-requests") or ""), MOST_HOLD_S)
        if day_left == 0 and day_reset:
            self._hold(now + day_reset, now)
        self._wake_head()

    def observe_rejection(self, message: str, wait_s: float | None, now: float, sent_at: float | None = None) -> None:
        """Learn from a 429 / 413 body ("(TPM): Limit L, Used U, …") and hold further calls for as long as
        it asks."""
        self.seen_response = True
        self.attempt_over()
        for kind, number in _BODY_LIMIT.findall(message):
            kind, limit = kind.upper(), _int(number, least=1)  # "Limit 0" is no limit to divide by
            if kind == "TPM" and limit is not None:
                self.tokens.limit = limit
            elif kind == "RPM" and limit is not None:
                self.requests.limit = limit
        asked = try_again_s(message)
        wait = seconds(asked if asked is not None else wait_s, MOST_HOLD_S)  # beyond a day: not a rate limit's
        for kind, raw_limit, raw_used in _BODY_USED.findall(message):
            # What the whole organisation has used: trusted over our own count, as headers are.
            limit, used = _int(raw_limit, least=1), _int(raw_used)
            if limit is None or used is None:
                continue
            which = self.tokens if kind.upper() == "TPM" else self.requests
            which.observe(limit, max(0, limit - used), None if wait is None else min(wait, DEFAULT_WINDOW_S),
                          sent_at if sent_at is not None else now, now, self._ledger_window)
        if wait is not None:
            self._hold(now + wait, now)
        self._wake_head()

    def _hold(self, until: float, now: float) -> None:
        if until > self.hold_until:
            self.hold_until, self._held_at = until, now

    def attempt_over(self) -> None:
        """A call's attempt ended (answered, refused or broken): a waiting call may probe next."""
        if self._probing is not None:
            self._probing = None
            self._probe_over.set()

    def hold_over(self, now: float) -> None:
        """A call waited out a 429's hold itself: the hold ends now."""
        self.hold_until = min(self.hold_until, now)

    async def acquire(self, tokens: int, ticket: int, on_wait: Callable[[BudgetWait], None] | None,
                      deadline: float | None, *, hedge: bool = False) -> tuple[float, int] | None:
        """Wait until a call of `tokens` fits, serving waiters by ticket; returns what was spent (to
        `refund` if the provider refuses the call). TimeoutError when `deadline` (loop time) comes first.
        A `hedge` (a second call for a lagging one) does not wait for a probe: the probe may be the laggard."""
        loop = asyncio.get_running_loop()
        self._arrived(ticket, self.model, tokens)
        while not self.known and self.hold_until <= loop.time() and not hedge:
            if self.seen_response:
                return None  # the provider sends no limits: nothing to pace
            if self._probing is None or self._probing == ticket:
                self._probing = ticket
                return None
            self._probe_over.clear()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            async with asyncio.timeout(timeout):
                await self._probe_over.wait()
        if not self.known and self.hold_until <= loop.time():
            return None
        waiter = _Waiter(ticket, next(self._seq), tokens, asyncio.Event())
        heapq.heappush(self._queue, waiter)
        told: float | None = None
        try:
            while True:
                now = loop.time()
                ahead = [w for w in self._queue if w < waiter]
                before = sum(w.tokens for w in ahead) + self._reserved(ticket, self.model)
                wait, resource = self.wait_s(tokens + before, now)
                if not ahead and wait <= 0:
                    heapq.heappop(self._queue)
                    self._wake_head()
                    return self.spend(tokens, now)
                if deadline is not None and now >= deadline:
                    raise TimeoutError
                if on_wait is not None and wait >= TELL_AFTER_S and (
                        told is None or abs(wait - told) > max(2.0, 0.25 * told)):
                    told = wait
                    on_wait(BudgetWait(self.model, self.provider, resource, wait, waiter.seq))
                waiter.wake.clear()
                sleep = wait if not ahead else None
                if told is not None:  # look again now and then, so what people are told stays true
                    sleep = min(sleep if sleep is not None else math.inf, max(TELL_AFTER_S, told / 4))
                if deadline is not None:
                    sleep = min(sleep if sleep is not None else math.inf, deadline - now)
                try:
                    async with asyncio.timeout(max(0.0, sleep) if sleep is not None else None):
                        await waiter.wake.wait()
                except TimeoutError:
                    pass
        except BaseException:
            self._leave(waiter)
            raise
        finally:
            if told is not None and on_wait is not None:
                on_wait(BudgetWait(self.model, self.provider, "tokens", 0.0, waiter.seq))

    @contextlib.contextmanager
    def place_kept(self, ticket: int, tokens: int) -> Iterator[None]:
        """While a refused call waits to try again, it keeps its place in line: later tickets do not take
        the room it is about to ask for again (or an earlier answer would finish after a later one)."""
        keeper = _Waiter(ticket, next(self._seq), tokens, asyncio.Event())
        heapq.heappush(self._queue, keeper)
        try:
            yield
        finally:
            self._leave(keeper)

    def wake(self) -> None:
        """Waiters re-check (something they depend on changed)."""
        self._wake_head()

    @property
    def waiting(self) -> int:
        """Calls waiting in line for room in this budget."""
        return len(self._queue)

    def _leave(self, waiter: _Waiter) -> None:
        """`waiter` leaves the line without being served; those behind it look again."""
        if waiter in self._queue:
            self._queue.remove(waiter)
            heapq.heapify(self._queue)
            self._wake_head()

    def _wake_head(self) -> None:
        # Everyone re-checks: the head may go, and the others' estimates change.
        for waiter in self._queue:
            waiter.wake.set()
        self._changed()


def _int(raw: str | None, least: int = 0) -> int | None:
    # A count within sense (see moa.figures): "inf", "-3", "1e308" or "nan" read as no figure.
    return count(raw, least=least)
