"""What each agent receives, and how reasoning is kept out of what it returns.

Layer 1 agents see their system prompt with `{helper_response}` replaced by nothing. Agents of later
layers and the aggregator see, in its place, the configured aggregate-and-synthesize instruction followed
by the previous layer's successful answers, numbered "1. …", "2. …". Earlier conversation turns go
between the system prompt and the question, as user / assistant messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from moa.config import HELPER_SLOT
from moa.events import Turn

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def helper_block(aggregate_prompt: str, answers: Sequence[str]) -> str:
    """The text that replaces `{helper_response}`: "" with no answers (layer 1), else instruction + list."""
    if not answers:
        return ""
    numbered = "\n\n".join(f"{i}. {answer.strip()}" for i, answer in enumerate(answers, start=1))
    return f"{aggregate_prompt}\n\n{numbered}"


def render_system(system_prompt: str, helper: str) -> str:
    """The system prompt with `{helper_response}` filled in (plain replacement: other braces are kept)."""
    return system_prompt.replace(HELPER_SLOT, helper).strip()


def build_messages(system: str, question: str, history: Sequence[Turn] = ()) -> list[dict[str, Any]]:
    """system, then the earlier turns, then the question as the last user message."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for turn in history:
        text = turn.text
        if turn.role == "user" and turn.author:
            text = f"{turn.author}: {text}"
        messages.append({"role": turn.role, "content": text})
    messages.append({"role": "user", "content": question})
    return messages


def strip_reasoning(text: str) -> str:
    """Remove `<think>…</think>` blocks, an unterminated leading `<think>` (all of it is reasoning), and
    reasoning before a stray `</think>` (templates that open the block in the prompt)."""
    if not text:
        return ""
    out = _THINK_BLOCK.sub("", text)
    lowered = out.lower()
    open_at = lowered.find(THINK_OPEN)
    if open_at != -1:  # opened, never closed: the model ran out of tokens while thinking
        out = out[:open_at]
    else:
        close_at = lowered.find(THINK_CLOSE)
        if close_at != -1:
            out = out[close_at + len(THINK_CLOSE):]
    return out.strip()


class ThinkStripper:
    """Strips `<think>…</think>` from streamed text whose tags may be split across deltas.

    `feed(delta)` returns what can be shown now; `finish()` returns what was held back. Leading whitespace
    of the answer is dropped, so a stream that opens with a think block shows the answer only.
    """

    def __init__(self) -> None:
        self._buf = ""
        self._thinking = False
        self._started = False  # has any answer text been emitted?

    def feed(self, delta: str) -> str:
        self._buf += delta
        out: list[str] = []
        while self._buf:
            if self._thinking:
                at = self._buf.lower().find(THINK_CLOSE)
                if at == -1:
                    keep = _partial_suffix(self._buf, THINK_CLOSE)
                    self._buf = self._buf[len(self._buf) - keep:] if keep else ""
                    break
                self._buf = self._buf[at + len(THINK_CLOSE):]
                self._thinking = False
                continue
            at = self._buf.lower().find(THINK_OPEN)
            if at == -1:
                keep = _partial_suffix(self._buf, THINK_OPEN)
                emit, self._buf = self._buf[:len(self._buf) - keep], self._buf[len(self._buf) - keep:]
                out.append(self._emit(emit))
                break
            out.append(self._emit(self._buf[:at]))
            self._buf = self._buf[at + len(THINK_OPEN):]
            self._thinking = True
        return "".join(out)

    def finish(self) -> str:
        rest, self._buf = ("" if self._thinking else self._buf), ""
        return self._emit(rest)

    def _emit(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            if text:
                self._started = True
        return text


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper beginning of `tag` (case-insensitive)."""
    lowered = text.lower()
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if lowered.endswith(tag[:n]):
            return n
    return 0
