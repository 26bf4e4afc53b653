"""What each agent receives, and reasoning kept out of answers."""

from __future__ import annotations

import pytest

from moa.events import Turn
from moa.messages.prompts import ThinkStripper, build_messages, helper_block, render_system, strip_reasoning


def test_layer_one_gets_nothing_in_the_slot() -> None:
    assert helper_block("Synthesize:", []) == ""
    assert render_system("Think step by step. {helper_response}", "") == "Think step by step."


def test_later_layers_get_the_instruction_then_numbered_answers() -> None:
    helper = helper_block("Synthesize these:", ["first answer", "  second\nanswer  "])
    assert helper == "Synthesize these:\n\n1. first answer\n\n2. second\nanswer"
    assert render_system("Be brief. {helper_response}", helper) == "Be brief. " + helper


def test_other_braces_in_a_prompt_are_kept() -> None:
    assert render_system('Reply as JSON {"a": 1}. {helper_response}', "") == 'Reply as JSON {"a": 1}.'


def test_history_goes_between_system_and_question() -> None:
    messages = build_messages("sys", "and now?", [Turn("user", "hi", author="bob"), Turn("assistant", "hello")])
    assert messages == [{"role": "system", "content": "sys"}, {"role": "user", "content": "bob: hi"},
                        {"role": "assistant", "content": "hello"}, {"role": "user", "content": "and now?"}]


@pytest.mark.parametrize(("raw", "clean"), [
    ("<think>secret</think>\n\nThe answer.", "The answer."),
    ("<think>\nmulti\nline\n</think>The answer.", "The answer."),
    ("Before <think>x</think>after", "Before after"),
    ("<THINK>x</THINK>Upper", "Upper"),
    ("<think>never closed because max_tokens ran out", ""),
    ("reasoning the template opened</think>\nThe answer.", "The answer."),
    ("No reasoning at all.", "No reasoning at all."),
    ("", ""),
])
def test_strip_reasoning(raw: str, clean: str) -> None:
    assert strip_reasoning(raw) == clean


def _stream(pieces: list[str]) -> str:
    stripper = ThinkStripper()
    return "".join(stripper.feed(p) for p in pieces) + stripper.finish()


@pytest.mark.parametrize("text", [
    "<think>\nLet me think. SECRET\n</think>\n\nThe answer is 42.",
    "The answer is 42.",
    "Answer <think>SECRET</think>is 42.",
    "<think>SECRET</think>The answer < 42 and <thin ice> stays.",
])
def test_streamed_reasoning_is_stripped_at_every_split(text: str) -> None:
    expected = strip_reasoning(text)
    for size in range(1, 12):
        pieces = [text[i:i + size] for i in range(0, len(text), size)]
        assert _stream(pieces).strip() == expected, size
        assert "SECRET" not in _stream(pieces)


def test_streamed_text_is_released_as_it_comes() -> None:
    stripper = ThinkStripper()
    assert stripper.feed("<thi") == ""
    assert stripper.feed("nk>hidden</th") == ""
    assert stripper.feed("ink>\n\nHel") == "Hel"
    assert stripper.feed("lo <") == "lo "  # "<" might open a tag: held back
    assert stripper.feed("b>") == "<b>"
    assert stripper.finish() == ""
