"""Every call counted: when a server reports no usage, its tokens are estimated from the text.

Some OpenAI-compatible servers stream no usage even when asked (`stream_options.include_usage`), and
some answer without a `usage` at all. Leaving such a call out would make the totals quietly partial (the
aggregator's tokens missing from every answer); an estimate marked as one (`Usage.estimated`, shown
with `≈`) says what it cost, roughly, and that the figure is not the server's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from moa.events import Usage
from moa.pacing import estimate_tokens


def estimated_usage(messages: Iterable[Mapping[str, Any]], answer: str) -> Usage:
    """The tokens of a call the server did not count: its prompt and its answer, estimated."""
    completion = estimate_tokens([{"content": answer}]) - 7 if answer else 0  # no message framing
    return Usage(estimate_tokens(messages), max(0, completion), estimated=True)


def about(usage: Usage | None) -> str:
    """"≈" when `usage` holds an estimate, else ""."""
    return "≈" if usage is not None and usage.estimated else ""
