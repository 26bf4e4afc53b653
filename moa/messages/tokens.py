"""The one token estimate: how many tokens a prompt or a text is likely to count, before any server counted it.

Every place that weighs text in tokens uses these (the pacer and the answer's plan, the history budget,
attachments, usage a server did not report), so the same text — Chinese included — counts the same
everywhere: about 4 characters of ASCII a token, any other character (CJK is about a token a
character) one each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from moa.messages.attachments import IMAGE_TOKENS

MESSAGE_OVERHEAD_TOKENS = 4  # the role tags and separators around one message
PROMPT_OVERHEAD_TOKENS = 3  # what a whole prompt adds (the reply's priming)


def text_tokens(text: str) -> int:
    """The tokens of a bare text: ~4 characters of ASCII a token, other characters one each."""
    # Fast for the usual all-ASCII text: this runs before every call, on a layer's critical path.
    ascii_chars = len(text) if text.isascii() else sum(1 for c in text if c.isascii())
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def message_tokens(text: str) -> int:
    """The tokens one message of `text` adds to a prompt: its text and its framing."""
    return MESSAGE_OVERHEAD_TOKENS + text_tokens(text)


def estimate_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """A cautious estimate of a prompt's tokens: each message's text and framing (`message_tokens`),
    an image as IMAGE_TOKENS (not its bytes), and a few tokens for the prompt."""
    total = PROMPT_OVERHEAD_TOKENS
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):  # text and image parts
            total += sum(IMAGE_TOKENS for part in content if part.get("type") == "image_url")
            content = "\n".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
        total += message_tokens(content if isinstance(content, str) else str(content or ""))
    return total
