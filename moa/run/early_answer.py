"""Early answer: the final answer's opening is written before the last layer has finished.

With the config's `early_answer` on and more than one layer, the aggregator starts on layer 1's answers
while they are still being written: layer 1's agents stream, and once the first of them has written
`OPENING_AFTER_WORDS` words (or finished), the aggregator is asked with every answer so far (an unfinished
one ends in " […]"), as staircase streaming does (arXiv 2510.05059). It streams its opening — the first
sentence, at most `OPENING_WORDS` words — and stops. People see the answer begin while layer 1 is still
writing. Once the last layer has answered, the aggregator is asked again with the last layer's answers
and its own opening as the start of its reply (assistant prefill), and continues it: every answer of the
last layer reaches the final answer, which is the opening plus the continuation, and the answer says its
opening came early (`opening_note`).
With `early_exit` on too the opening waits for layer 1 to be complete (early exit may then end the
proposing, and the aggregator's one call writes the whole answer).

Continuing a partial reply needs a provider that treats a trailing assistant message as the start of
its answer. Groq does; OpenAI-compatible servers differ (vLLM wants `continue_final_message`, others
start a new message), so for those the answer comes in today's order, said once per provider in the log.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field

from moa.calls.providers import GROQ, ProviderRegistry
from moa.events import Usage

log = logging.getLogger(__name__)

OPENING_WORDS = 12  # the most the opening says before the last layer's answers are in
# Words the first of layer 1's agents has written before the opening starts from what all have written:
# an opening is a sentence of framing, and its first word should come within a quarter of the time the
# whole MoA takes to its first word (bench/first_words.py).
OPENING_AFTER_WORDS = 8
UNFINISHED = " […]"  # ends an answer the opening saw while it was still being written
_WHOLE_WORD = re.compile(r"\s*\S+(?=\s)")
_LINE_END = re.compile(r"[ \t]*\n")


class Continuation:
    """Which models' providers continue a partial answer, each provider that does not said once in the log."""

    def __init__(self, providers: ProviderRegistry) -> None:
        self._providers = providers
        self._told: set[str] = set()  # providers whose fallback was already logged

    def can_continue(self, model: str) -> bool:
        """Whether `model`'s provider continues a partial answer; logs the fallback once per provider."""
        provider = self._providers.provider_of(model)
        if provider == GROQ:
            return True
        if provider not in self._told:
            self._told.add(provider)
            log.info("early_answer: %s cannot be relied on to continue a partial answer, so answers whose "
                     "aggregator it serves come in the usual order (the aggregator after the last layer)", provider)
        return False


def gap(opening: str, rest: str) -> str:
    """The space between an opening and its continuation, which providers strip from a reply's start."""
    if not opening or not rest or opening[-1].isspace() or rest[0].isspace() or rest[0] in ",.;:!?)]}'\"":
        return ""
    return " "


@dataclass
class Opening:
    """The opening as it streams in: `take` returns what of each piece belongs to it. Only whole words
    count (a word is whole once whitespace follows it), so "9." of "9.9" never ends the opening."""

    text: str = ""
    done: bool = False
    first_at: float | None = None  # loop time of its first word
    usage: Usage | None = None  # its call's tokens (estimated when the call was stopped), once it is over
    unfinished: bool = False  # written from answers still being written
    _pending: str = field(default="", repr=False)
    _words: int = field(default=0, repr=False)

    def take(self, piece: str) -> str:
        """The part of the text so far that joins the opening ("" once it is complete)."""
        if self.done:
            return ""
        self._pending += piece
        kept = ""
        while (word := _WHOLE_WORD.match(self._pending)) is not None:
            token = word.group(0)
            self._pending = self._pending[word.end():]
            kept += token
            self._words += 1
            ends_sentence = token[-1] in ".!?:" or _LINE_END.match(self._pending) is not None
            if self._words >= OPENING_WORDS or (self._words >= 3 and ends_sentence):
                self.done = True
                break
        self.text += kept
        return kept


@dataclass
class LayerSoFar:
    """Layer 1's answers as they are written. `ready` is set once one agent has written more than
    `OPENING_AFTER_WORDS` words (its last may be cut) or finished, or every agent has failed."""

    agents: int
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _texts: dict[str, str] = field(default_factory=dict)
    _finished: set[str] = field(default_factory=set)
    _failed: set[str] = field(default_factory=set)
    seen_unfinished: bool = False  # whether `answers()` gave an answer that was still being written

    def feed(self, agent: str, piece: str) -> None:
        self._texts[agent] = self._texts.get(agent, "") + piece
        self._check()

    def restart(self, agent: str) -> None:
        """The agent's call is asked again from the start (a reservation cut it short)."""
        self._texts.pop(agent, None)

    def finish(self, agent: str, text: str | None) -> None:
        """The agent's answer is complete (`text`), or it failed or was left out (None)."""
        if text:
            self._texts[agent] = text
            self._finished.add(agent)
        else:
            self._texts.pop(agent, None)
            self._failed.add(agent)
        self._check()

    def answers(self) -> tuple[str, ...]:
        """The answers so far: finished ones whole, the others (their whole words, if any) ending in " […]"."""
        out = []
        for agent, text in self._texts.items():
            if agent in self._finished:
                out.append(text)
            elif whole := (text if text[-1:].isspace() else text[:len(text) - len(text.split()[-1])]).strip():
                out.append(whole + UNFINISHED)  # whole words only: the last one may still be growing
                self.seen_unfinished = True
        return tuple(out)

    def _check(self) -> None:
        if self._finished or len(self._failed) >= self.agents or any(
                len(text.split()) > OPENING_AFTER_WORDS for text in self._texts.values()):
            self.ready.set()


def opening_note(unfinished: bool, last_layer: int) -> str:
    """What the answer says when its opening was written before the last layer's answers were in."""
    source = "layer 1's answers while they were still being written" if unfinished else "layer 1's answers"
    return f"The opening words came early, from {source}; the rest reflects layer {last_layer}'s answers."
