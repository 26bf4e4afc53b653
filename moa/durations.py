"""The one place durations become words. Three needs, three functions:

- `measured`: a time that was measured (a call's latency, an answer's total, a median), read at a glance.
- `told`: seconds named inside a sentence (what a provider asks to wait, a timeout, the time left).
- `rounded`: a wait or an estimate as people say it, never falsely precise.
"""

from __future__ import annotations


def measured(value: float) -> str:
    """'0.4 s', '12.3 s', '2 min 5 s'."""
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s"


def told(value: float) -> str:
    """'90 s' from 10 s up, '2.5 s' below."""
    return f"{value:.0f} s" if abs(value) >= 10 else f"{value:.1f} s"


def rounded(value: float) -> str:
    """'3 s', '40 s' (to 5 s), '2 min', '1.5 h'."""
    if value >= 5400:
        return f"{value / 3600:.1f} h"
    if value >= 120:
        return f"{value / 60:.0f} min"
    if value >= 10:
        return f"{round(value / 5) * 5:.0f} s"
    return f"{max(1.0, value):.0f} s"


def agent_time(latency_s: float, queued_s: float = 0.0) -> str:
    """An agent's call time: '4.9 s', or '4.9 s on the server + 6.1 s queued' when it waited for a busy
    server (one that answers one call at a time) or its rate limit — so the wait does not read as the model
    being slow."""
    if queued_s <= 0:
        return measured(latency_s)
    return f"{measured(max(0.0, latency_s - queued_s))} on the server + {measured(queued_s)} queued"
