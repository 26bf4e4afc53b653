"""The `Pacer`: every model's `Budget` in this process, the tickets that order answers, and admission
(how much room the answers already running leave for one more)."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable, Mapping

from moa.pace.budget import Budget, Need
from moa.pace.limits import DeclaredLimits


class Pacer:
    """Every model's budget in this process, and the tickets that order answers."""

    def __init__(self, declared: Mapping[str, DeclaredLimits] | None = None) -> None:
        self._declared = dict(declared or {})
        self._budgets: dict[str, Budget] = {}
        self._tickets = itertools.count(1)
        self._expected: dict[int, dict[str, int]] = {}  # ticket -> model -> tokens its next step needs
        # ticket -> model -> what the step just begun will ask, until each of its calls has taken its place
        # in line: between a step's start and its calls' turn a later answer must not slip in.
        self._starting: dict[int, dict[str, Need]] = {}
        # What admitted answers have still to ask each model for (ticket -> model -> tokens): admission
        # counts it, or it would let in many answers before the first of them asked for anything.
        self._remaining: dict[int, dict[str, Need]] = {}
        self._watchers: list[Callable[[], None]] = []
        self._telling = False

    def ticket(self) -> int:
        """The next answer's place in line."""
        return next(self._tickets)

    def expect(self, ticket: int, demand: Mapping[str, int], starting: Mapping[str, Need] | None = None) -> None:
        """The answer holding `ticket` begins a step whose calls will ask `starting` (tokens and calls per
        model), and will next ask these models for about `demand` tokens: later answers leave that much
        room, so earlier answers finish first instead of all together."""
        self._expected[ticket] = {m: n for m, n in demand.items() if n > 0}
        self._starting[ticket] = {m: need for m, need in (starting or {}).items() if need.calls > 0}
        self._wake_all()

    def done(self, ticket: int) -> None:
        """The answer holding `ticket` is over: it needs nothing more."""
        claimed = self._remaining.pop(ticket, None)
        starting = self._starting.pop(ticket, None)
        if self._expected.pop(ticket, None) or claimed or starting:
            self._wake_all()
            self._changed()

    # ---- admission: how many answers run at once follows the budget ----

    def claim(self, demand: Mapping[str, Need]) -> int:
        """An answer is let in: its ticket; `demand` (what it asks each model for, all steps) counts
        against later answers' `room_s` until its calls have asked for it."""
        ticket = self.ticket()
        self._remaining[ticket] = dict(demand)
        return ticket

    def room_s(self, demand: Mapping[str, Need]) -> float:
        """Seconds until an answer asking `demand` (per model, all its steps) would run without
        waiting behind earlier answers: 0 now; `math.inf` while only an event can tell — a model's limits
        are not known yet, calls wait for its budget, or what admitted answers have still to ask for and
        this answer together exceed one window's limit. `watch` tells of those events."""
        now = asyncio.get_running_loop().time()
        longest = 0.0
        for model, need in demand.items():
            budget = self.known(model)
            if budget is None:
                seen = self._budgets.get(model)
                if seen is None or not seen.seen_response:
                    return math.inf  # the first answer's calls find the limits out
                longest = max(longest, seen.hold_until - now)  # it sends no limits: only a 429's hold
                continue
            if budget.waiting:
                return math.inf
            longest = max(longest, budget.hold_until - now)
            ahead = [left[model] for left in self._remaining.values() if model in left]
            # What fits one window finishes within about a window, whatever the window holds now; an
            # answer asking more than the whole limit (trimmed to fit) goes when nobody else asks.
            for limit, mine, theirs in ((budget.tpm, need.tokens, sum(n.tokens for n in ahead)),
                                        (budget.rpm, need.calls, sum(n.calls for n in ahead))):
                if limit is not None and min(mine, limit) + theirs > limit:
                    return math.inf
        return max(0.0, longest)

    def watch(self, callback: Callable[[], None]) -> None:
        """Call `callback` (soon, once per burst of changes) whenever room may have been freed."""
        self._watchers.append(callback)

    def _changed(self) -> None:
        if not self._watchers or self._telling:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._telling = True
        loop.call_soon(self._tell_watchers)

    def _tell_watchers(self) -> None:
        self._telling = False
        for callback in self._watchers:
            callback()

    def _arrived(self, ticket: int, model: str, tokens: int) -> None:
        left = self._remaining.get(ticket)
        if left is not None and model in left:
            left[model] = _less(left[model], tokens)
            self._changed()
        starting = self._starting.get(ticket)
        if starting is not None and model in starting:
            # The call takes its place in line now (Budget.acquire, with no await between): its share of the
            # step's reservation becomes its own place. The step's last call frees what the plan overestimated.
            after = _less(starting[model], tokens)
            starting[model] = after if after.calls > 0 else Need(0, 0)

    def _reserved(self, ticket: int, model: str) -> int:
        return sum(demand.get(model, 0) for t, demand in self._expected.items() if t < ticket) + sum(
            need[model].tokens for t, need in self._starting.items() if t < ticket and model in need)

    def _wake_all(self) -> None:
        for budget in self._budgets.values():
            budget.wake()

    def budget(self, model: str, provider: str) -> Budget:
        budget = self._budgets.get(model)
        if budget is None:
            budget = self._budgets[model] = Budget(model, provider, self._declared.get(model), self._reserved,
                                                   self._changed, self._arrived)
        elif provider and not budget.provider:
            budget.provider = provider
        return budget

    def known(self, model: str) -> Budget | None:
        """The model's budget when its limits are known (declared or learnt), else None."""
        budget = self._budgets.get(model)
        if budget is None and model in self._declared:
            budget = self.budget(model, "")
        return budget if budget is not None and budget.known else None

    def largest_request(self, model: str) -> int | None:
        """The most tokens (prompt + max_tokens) one request to `model` may count, when known."""
        budget = self.known(model)
        return budget.tpm if budget is not None else None


def _less(need: Need, tokens: int) -> Need:
    """What is left of `need` once one call asking `tokens` has asked."""
    return Need(max(0, need.tokens - tokens), max(0, need.calls - 1))
