"""Checking that edits come "no more often than once per interval" from arrival times load jitters."""

from __future__ import annotations

from collections.abc import Sequence

# asyncio may fire a timer up to its clock resolution early; this only ever lets a paced sender pass.
TIMER_SLACK = 0.001


def assert_paced(start: float, writes: Sequence[float], interval: float) -> None:
    """Each of `writes` came no sooner than one `interval` after the one before, the first one `interval`
    after `start` — judged by counting, which load cannot fool, rather than by single gaps, which it can.

    The times are taken on arrival (the fakes stamp requests as they come in), after a trip — a task switch,
    an HTTP round — that a busy machine can stretch for one write and not the next, so one gap can look
    short although the sender waited. Counted from `start` (a moment the sender's pacing began after) the
    k-th write left at least k intervals later and arrived later still, whatever the load: load only
    lengthens the span, which lets a paced sender pass and still catches one that writes on every event.
    """
    for k, at in enumerate(sorted(writes), start=1):
        assert at - start >= k * interval - TIMER_SLACK, (
            f"write {k} arrived {at - start:.3f} s after the start; paced at one per {interval} s it could "
            f"not have left before {k * interval:.1f} s")
