"""What each agent receives, and how reasoning is kept out of what it returns.

Layer 1 agents see their system prompt with `{helper_response}` replaced by nothing. Agents of later
layers and the aggregator see, in its place, the configured aggregate-and-synthesize instruction followed
by the previous layer's successful answers, numbered "1. …", "2. …". Earlier conversation turns go
between the system prompt and the question, as user / assistant messages.

With the `instruction_first` layout (the default) each call starts with the agent's own instruction,
`{helper_response}` removed, as the system message — the same in every layer of an answer and every turn
of a thread; then the earlier turns; then one last user message: the question and, from layer 2 on,
`ANSWERS_BREAK` and the aggregate instruction with the earlier layer's numbered answers. Only that last
message changes from layer to layer, so providers that cache prompt prefixes (Groq, vLLM, llama.cpp)
serve the rest, and roles stay in the order chat templates expect (system, then user and assistant
taking turns, ending with the user).

With the `shared_prefix` layout the same messages as `classic` come in another order: the earlier turns
and the question first — the same for every call of an answer, and a prefix of the next turn's — then the
agent's system prompt (with the earlier answers). Providers that cache prompt prefixes then read the
thread once per model instead of once per call, but the system message comes last, which some chat
templates refuse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from moa.config.schema import HELPER_SLOT
from moa.events import Turn

T = TypeVar("T")

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# With the instruction_first and shared_prefix layouts, older turns leave the history this many at a time,
# so the history's start, and with it the cached prefix, stays the same for several turns instead of
# moving every turn.
HISTORY_BLOCK_TURNS = 8

# instruction_first: between the question and the earlier answers in the last user message.
ANSWERS_BREAK = "\n\n---\n\n"
LAYOUTS = ("instruction_first", "classic", "shared_prefix")

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


def build_shared_prefix_messages(system: str, question: str,
                                 history: Sequence[Turn] = ()) -> list[dict[str, Any]]:
    """The earlier turns, then the question, then the agent's system prompt: what every call of an answer
    shares comes first, so a provider's prefix cache can serve it."""
    messages = build_messages(system, question, history)
    return [*messages[1:], messages[0]]


def build_instruction_first_messages(system: str, question: str, history: Sequence[Turn] = (),
                                     helper: str = "") -> list[dict[str, Any]]:
    """The agent's own instruction, then the earlier turns, then the question with the `helper` (the
    earlier answers) after it in the same, last user message: only that message changes between layers."""
    messages = build_messages(system, question, history)
    if helper:
        messages[-1]["content"] = f"{question}{ANSWERS_BREAK}{helper}"
    return messages


def layout_messages(layout: str, system_prompt: str, helper: str, question: str,
                    history: Sequence[Turn] = ()) -> list[dict[str, Any]]:
    """One call's messages in the config's `prompt_layout`; `system_prompt` still has `{helper_response}`."""
    if layout == "instruction_first":
        return build_instruction_first_messages(render_system(system_prompt, ""), question, history, helper)
    system = render_system(system_prompt, helper)
    if layout == "shared_prefix":
        return build_shared_prefix_messages(system, question, history)
    return build_messages(system, question, history)


def keep_whole_blocks(turns: Sequence[T], total: int, block: int = HISTORY_BLOCK_TURNS) -> list[T]:
    """`turns`, the newest of a thread's `total`, with the oldest left out so the number left out is a
    whole number of `block`s (nothing changes when nothing was left out) — unless that would leave fewer
    than half of `turns`: a thread's context is worth more than a cached prefix."""
    skipped = total - len(turns)
    if skipped <= 0 or block <= 1:
        return list(turns)
    kept = list(turns[-skipped % block:])
    return kept if 2 * len(kept) >= len(turns) else list(turns)


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
