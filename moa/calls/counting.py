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
from moa.messages.tokens import text_tokens


def estimated_usage(messages: Iterable[Mapping[str, Any]], answer: str) -> Usage:
    """The tokens of a call the server did not count: its prompt and its answer, estimated as a tokenizer
    would count them (`moa.messages.tokens.text_tokens`: the texts only, without the framing the pacer
    adds to stay within rate limits — a count should not lean high)."""
    prompt = sum(text_tokens(str(m.get("content") or "")) for m in messages)
    return Usage(prompt, text_tokens(answer), estimated=True)


def about(usage: Usage | None) -> str:
    """"≈" when `usage` holds an estimate, else ""."""
    return "≈" if usage is not None and usage.estimated else ""
