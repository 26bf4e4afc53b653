"""How many tokens a call reserves: what the model is likely to write, learned from finished calls.

Groq counts a request as its prompt plus the `max_tokens` it asks for, so a proposer that asks for the
config's 1,024 tokens and writes 150 holds six times what it uses. Once a model has finished a few calls
in a role, its calls ask for a high percentile of what those calls wrote, with headroom, never more than
the config's own `max_tokens`. A call that stopped at a reduced reservation (finish_reason "length")
counts as one that wanted the config's whole limit, so the reservation grows back at once; the engine
sends such a call again at the config's limit, so no answer is cut by a smaller reservation.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

Role = Literal["proposer", "aggregator"]

WARM_UP_CALLS = 4  # finished calls of a model and role before its reservation shrinks
KEPT_CALLS = 32  # the most recent calls a reservation is learned from
PERCENTILE = 0.95
HEADROOM = 1.25  # × the percentile …
SLACK_TOKENS = 64  # … plus this many
FLOOR_TOKENS = 128  # never reserve less


class Reservations:
    """Learned reservations per (model, role), for one process."""

    def __init__(self, *, warm_up: int = WARM_UP_CALLS, kept: int = KEPT_CALLS) -> None:
        self.warm_up = warm_up
        self.kept = kept
        self._written: dict[tuple[str, Role], deque[int]] = {}

    def reserve(self, model: str, role: Role, configured: int) -> int:
        """The max_tokens to ask for: `configured` until warmed up, then what calls have been writing."""
        written = self._written.get((model, role))
        if written is None or len(written) < self.warm_up:
            return configured
        ranked = sorted(written)
        high = ranked[min(len(ranked) - 1, math.ceil(PERCENTILE * len(ranked)) - 1)]
        learned = math.ceil(high * HEADROOM) + SLACK_TOKENS
        return max(min(configured, FLOOR_TOKENS), min(configured, max(FLOOR_TOKENS, learned)))

    def record(self, model: str, role: Role, completion_tokens: int, *, cut: bool, configured: int) -> None:
        """A finished call wrote `completion_tokens`; `cut`: it stopped at its max_tokens (it wanted more)."""
        written = self._written.setdefault((model, role), deque(maxlen=self.kept))
        written.append(configured if cut else max(0, completion_tokens))
