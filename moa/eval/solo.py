"""The `single:MODEL` baseline: one model answering alone, and the answer budget it gets.

A baseline allowed 2,048 tokens beside a config whose aggregator may write 128 is not the same test:
on a slow server it also takes many times as long. So the baseline's `max_tokens` follows the compared
configs' final-answer budget (the largest, when several are compared) unless `--single-max-tokens` sets it.
"""

from __future__ import annotations

from collections.abc import Iterable

SINGLE = "single:"
SOLO_TEMPERATURE = 0.5  # the aggregator's default: the model alone answers as it would aggregate
SOLO_MAX_TOKENS = 2048  # with no MoA config to follow: the aggregator's default budget


def solo_max_tokens(final_budgets: Iterable[int], chosen: int | None = None) -> int:
    """The baseline's max_tokens: `chosen` when given, else the largest of the compared configs'
    final-answer budgets, else SOLO_MAX_TOKENS."""
    if chosen is not None:
        return chosen
    return max(final_budgets, default=SOLO_MAX_TOKENS)
