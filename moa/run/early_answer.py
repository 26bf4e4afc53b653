"""Early answer: the final answer's opening is written before the last layer has finished.

With the config's `early_answer` on and more than one layer, the aggregator starts as soon as the first
layer has answered (and early exit, if on, did not end the proposing there): it streams its opening —
the first sentence, at most `OPENING_WORDS` words — from layer 1's answers, and stops. People see the
answer begin while the later layers run. Once the last layer has answered, the aggregator is asked
again with the last layer's answers and its own opening as the start of its reply (assistant prefill),
and continues it: every answer of the last layer reaches the final answer, which is the opening plus
the continuation.

Continuing a partial reply needs a provider that treats a trailing assistant message as the start of
its answer. Groq does; OpenAI-compatible servers differ (vLLM wants `continue_final_message`, others
start a new message), so for those the answer comes in today's order, said once per provider in the log.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from moa.calls.providers import GROQ, ProviderRegistry
from moa.events import Usage

log = logging.getLogger(__name__)

OPENING_WORDS = 12  # the most the opening says before the last layer's answers are in
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
