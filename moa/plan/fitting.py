"""Making one call fit a model's tokens-per-minute limit before it is sent — never a 413 dead end.

Groq counts a request as its prompt plus the `max_tokens` it asks for, and refuses (413) one larger than
the whole minute's budget. When the limit is known, a call that would not fit is made to fit, in this
order, each step only as far as needed:

1. a smaller `max_tokens` (down to a floor that still leaves room for an answer);
2. the oldest turns of the conversation history left out;
3. the earlier layer's answers shortened, each to the same share.

What was trimmed comes back as a sentence, so the answer can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moa.config.schema import DEFAULT_LAYOUT
from moa.events import Turn
from moa.messages.prompts import helper_block, layout_messages
from moa.messages.tokens import estimate_tokens

MIN_ANSWER_TOKENS = 256  # max_tokens is not lowered below this (or the configured value, if smaller)
HEADROOM = 0.95  # the estimate is cautious, but leave a little room anyway


@dataclass(frozen=True)
class CallShape:
    """Everything a call's request is built from."""

    system_prompt: str  # with {helper_response}
    aggregate_prompt: str
    answers: tuple[str, ...]  # the previous layer's answers ("" helper when empty)
    question: str
    history: tuple[Turn, ...]
    max_tokens: int
    layout: str = DEFAULT_LAYOUT  # the config's prompt_layout

    def messages(self) -> list[dict[str, Any]]:
        helper = helper_block(self.aggregate_prompt, self.answers) if self.answers else ""
        return layout_messages(self.layout, self.system_prompt, helper, self.question, self.history)

    def cost(self) -> int:
        return estimate_tokens(self.messages()) + self.max_tokens


@dataclass(frozen=True)
class Fitted:
    messages: list[dict[str, Any]]
    max_tokens: int
    trimmed: str | None  # what was cut, as a sentence fragment; None when nothing was


def fit(shape: CallShape, limit: int | None, *, who: str, model: str) -> Fitted:
    """The call's messages and max_tokens, trimmed to fit `limit` tokens (None: no known limit)."""
    if limit is None or shape.cost() <= limit * HEADROOM:
        return Fitted(shape.messages(), shape.max_tokens, None)
    room = int(limit * HEADROOM)
    notes: list[str] = []
    floor = min(shape.max_tokens, MIN_ANSWER_TOKENS)
    prompt = estimate_tokens(shape.messages())
    new_max = max(floor, min(shape.max_tokens, room - prompt))
    if new_max < shape.max_tokens:
        notes.append(f"its max_tokens lowered from {shape.max_tokens:,} to {new_max:,}")
        shape = _with(shape, max_tokens=new_max)
    history = shape.history
    dropped = 0
    while shape.cost() > room and history:
        history = history[1:]
        dropped += 1
        shape = _with(shape, history=history)
    if dropped:
        notes.append(f"the {dropped} oldest of its {dropped + len(history)} history messages left out")
    if shape.cost() > room and shape.answers:
        shape, cut_to = _shorten_answers(shape, room)
        notes.append(f"the earlier answers shortened to about {cut_to:,} characters each")
    if shape.cost() > room:  # the question and instructions alone: give the answer what is left
        left = max(1, room - estimate_tokens(shape.messages()))
        if left < shape.max_tokens:
            notes.append(f"its max_tokens lowered to {left:,}")
            shape = _with(shape, max_tokens=left)
    sentence = (f"{who} ({model}) was trimmed to fit its {limit:,} tokens-per-minute limit: "
                + "; ".join(notes) + ".") if notes else None
    return Fitted(shape.messages(), shape.max_tokens, sentence)


def _with(shape: CallShape, **changes: Any) -> CallShape:
    fields = {**shape.__dict__, **changes}
    return CallShape(**fields)


def _shorten_answers(shape: CallShape, room: int) -> tuple[CallShape, int]:
    """Cut every earlier answer to the same length, the longest that fits (binary search)."""
    low, high = 0, max(len(a) for a in shape.answers)
    best = _cut(shape, 0)
    while low <= high:
        mid = (low + high) // 2
        trial = _cut(shape, mid)
        if trial.cost() <= room:
            best, low = trial, mid + 1
        else:
            high = mid - 1
    return best, max(0, low - 1)


def _cut(shape: CallShape, chars: int) -> CallShape:
    answers = tuple(a if len(a) <= chars else a[:chars].rstrip() + " […]" for a in shape.answers)
    return _with(shape, answers=answers)

