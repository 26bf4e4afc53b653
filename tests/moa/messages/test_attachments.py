"""Images beside a question: counted in a prompt's estimate as images, not as their bytes."""

from __future__ import annotations

from moa.messages.attachments import IMAGE_TOKENS, Image, Shown
from moa.messages.tokens import estimate_tokens


def test_an_image_counts_as_image_tokens_not_its_base64_size() -> None:
    shown = Shown((Image("big.png", "image/png", b"\x89PNG" + bytes(2_000_000)),), frozenset({"vision"}))
    messages = shown.messages_for("vision", [{"role": "user", "content": "what is it?"}])

    plain = estimate_tokens([{"role": "user", "content": "what is it?"}])
    assert estimate_tokens(messages) == plain + IMAGE_TOKENS  # not ~700,000 tokens of base64
