"""Figures a provider sends (rate-limit headers, retry-after, the numbers in 429 / 413 bodies), kept within sense.

A provider, a proxy in front of it, or a bug may send a limit of 0 or `inf`, a reset of `1e308` or an
epoch time, a retry-after of eleven days. Believed, such a figure divides by zero, overflows an integer or
holds every later answer for ever. These functions read a figure and answer None for anything outside what a
rate limit can be, so callers ignore it; nothing here raises.
"""

from __future__ import annotations

import math
from typing import Any

from moa.durations import told

# No provider's limit is a billion tokens or requests a window; beyond that a figure is noise.
MOST_COUNT = 10**9
# Daily request limits reset within a day; a reset or wait beyond a day is not a rate limit's.
MOST_HOLD_S = 86_400.0


def count(raw: Any, *, least: int = 0) -> int | None:
    """A whole count from a header or body (`"14400"`, `"8000.0"`, 8000) when it lies in `least`…MOST_COUNT;
    None for anything else (empty, text, negative, NaN, infinite, huge)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        if not raw or len(raw) > 40:  # a long digit string is not a count (and int() refuses > 4300 digits)
            return None
        try:
            value = float(raw)
        except ValueError:
            return None
    elif isinstance(raw, int | float):
        value = float(raw) if isinstance(raw, float) or abs(raw) <= 2 * MOST_COUNT else math.inf
    else:
        return None
    if not math.isfinite(value) or value != int(value) or not least <= value <= MOST_COUNT:
        return None
    return int(value)


def seconds(value: float | None, most: float) -> float | None:
    """`value` seconds when finite and within 0…`most`, else None (a wait no rate limit asks for)."""
    if value is None or not math.isfinite(value) or not 0 <= value <= most:
        return None
    return value


def said(value: float | None) -> str:
    """What a provider asked for, for a sentence: "999999 s", "an endless time"."""
    if value is None:
        return "no readable time"
    if not math.isfinite(value):
        return "an endless time"
    return told(value)
