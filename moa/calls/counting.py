"""Every call counted: when a server reports no usage, its tokens are estimated from the text.

Some OpenAI-compatible servers stream no usage even when asked (`stream_options.include_usage`), and
some answer without a `usage` at all. Leaving such a call out would make the totals quietly partial (the
aggregator's tokens missing from every answer); an estimate marked as one (`Usage.estimated`, shown
with `≈`) says what it cost, roughly, and that the figure is not the server's own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from moa.events import Usage


def estimated_usage(messages: Iterable[Mapping[str, Any]], answer: str) -> Usage:
    """The tokens of a call the server did not count: its prompt and its answer, estimated as a tokenizer
    would count them — about 4 characters of ASCII a token, other characters (CJK) about one each.
    (`moa.pace.estimate_tokens` leans high on purpose, to keep within rate limits; a count should not.)"""
    prompt = sum(_tokens(str(m.get("content") or "")) for m in messages)
    return Usage(prompt, _tokens(answer), estimated=True)


def _tokens(text: str) -> int:
    ascii_chars = len(text) if text.isascii() else sum(1 for c in text if c.isascii())
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def about(usage: Usage | None) -> str:
    """"≈" when `usage` holds an estimate, else ""."""
    return "≈" if usage is not None and usage.estimated else ""
