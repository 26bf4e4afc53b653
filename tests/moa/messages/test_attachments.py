"""Images beside a question: counted in a prompt's estimate as images, not as their bytes."""

from __future__ import annotations

from moa.messages.attachments import IMAGE_TOKENS, Image, Shown
from moa.messages.prompts import ANSWERS_BREAK, layout_messages
from moa.messages.tokens import estimate_tokens


def test_an_image_counts_as_image_tokens_not_its_base64_size() -> None:
    shown = Shown((Image("big.png", "image/png", b"\x89PNG" + bytes(2_000_000)),), frozenset({"vision"}))
    messages = shown.messages_for("vision", [{"role": "user", "content": "what is it?"}])

    plain = estimate_tokens([{"role": "user", "content": "what is it?"}])
    assert estimate_tokens(messages) == plain + IMAGE_TOKENS  # not ~700,000 tokens of base64


def test_a_model_that_cannot_see_is_told_right_after_the_question_before_the_earlier_answers() -> None:
    shown = Shown((Image("chart.png", "image/png", b"\x89PNG"),), frozenset({"vision"}))
    layer_2 = layout_messages("instruction_first", "Be brief. {helper_response}", "Synthesize:\n\n1. It rose.",
                              "what does it show?")
    [_, blind] = shown.messages_for("text-only", layer_2)
    assert blind["content"] == ("what does it show?\n\n(chart.png also attached, but you cannot see images; say so "
                                "if the answer depends on them.)" + ANSWERS_BREAK + "Synthesize:\n\n1. It rose.")
    [_, seeing] = shown.messages_for("vision", layer_2)
    assert [p["type"] for p in seeing["content"]] == ["text", "image_url"]
