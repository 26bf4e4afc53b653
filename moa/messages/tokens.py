"""The one token estimate: how many tokens a prompt or a text is likely to count, before any server counted it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from moa.messages.attachments import IMAGE_TOKENS


def estimate_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """A cautious estimate of a prompt's tokens: ~4 characters of ASCII a token, other characters one
    each (CJK text is about a token a character), and a few tokens of framing per message."""
    total = 3
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):  # text and image parts: an image counts as IMAGE_TOKENS, not its bytes
            total += sum(IMAGE_TOKENS for part in content if part.get("type") == "image_url")
            content = "\n".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
        text = content if isinstance(content, str) else str(content or "")
        # Fast for the usual all-ASCII text: this runs before every call, on a layer's critical path.
        ascii_chars = len(text) if text.isascii() else sum(1 for c in text if c.isascii())
        total += 4 + math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)
    return total
