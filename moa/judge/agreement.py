"""How far one layer's answers agree, without another model call.

Two answers agree when they reach the same final answer (a number, a choice, yes/no — read by the
shared extractor, `moa.judge.extract`) or, where neither states one, when their normalised texts are nearly
identical. The verdict is one honest line: "3 of 3 agents agreed", "agents split 2–1 (9.9 / 9.11)",
or nothing (None) where the answers have nothing comparable. Agents that failed or were left out count
in the total and agree with no one.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from moa.judge.extract import final_answer

# Texts at least this similar (difflib ratio, after normalising) count as the same answer.
NEAR_IDENTICAL = 0.9

_NON_WORD = re.compile(r"[^\w.%-]+")


@dataclass(frozen=True)
class Agreement:
    """The largest group of agreeing answers among `total` agents."""

    agreeing: int
    total: int
    groups: tuple[int, ...]  # sizes of the groups of agreeing answers, largest first (singletons too)
    values: tuple[str, ...]  # the final answer of each group, same order; () when compared by text
    by: Literal["final answer", "text"]

    @property
    def unanimous(self) -> bool:
        return self.agreeing == self.total

    def agreed(self) -> str:
        """"2 of 3 agents agreed": the largest group, whatever the others said."""
        return f"{self.agreeing} of {self.total} agents agreed"

    def sentence(self) -> str:
        """"3 of 3 agents agreed", or "agents split 2–1 (9.9 / 9.11)"."""
        if self.unanimous or len(self.groups) == 1:
            return self.agreed()
        split = "–".join(str(n) for n in self.groups)
        shown = f" ({' / '.join(self.values)})" if self.values else ""
        return f"agents split {split}{shown}"


FinalOf = Callable[[str], str | None]


def stated_final(text: str) -> str | None:
    """The reply's final number, choice or yes/no (moa.judge.extract), or None. A final line of prose is not a
    final answer here: two essays that end differently have not disagreed on anything."""
    found = final_answer(text)
    if found is None or found.kind == "text":
        return None
    return found.value


def normalise(text: str) -> str:
    """Text as compared: case, accents' forms, punctuation and spacing set aside."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split()).strip(" .")


def _same_text(a: str, b: str) -> bool:
    if a == b:
        return True
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return matcher.real_quick_ratio() >= NEAR_IDENTICAL and matcher.quick_ratio() >= NEAR_IDENTICAL \
        and matcher.ratio() >= NEAR_IDENTICAL


def measure(texts: Sequence[str | None], final_of: FinalOf = stated_final) -> Agreement | None:
    """The agreement of one layer's answers (None for an agent that failed), or None when fewer than two
    answers can be compared.

    By final answer when at least two answers state one; else by near-identical text, reported only
    when at least two texts match (free prose that differs says nothing about agreement)."""
    total = len(texts)
    answered = [t for t in texts if t]
    finals = [final_of(t) for t in answered]
    stated = [f for f in finals if f is not None]
    if len(stated) >= 2:
        counts: dict[str, int] = {}
        for value in stated:
            counts[value] = counts.get(value, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: first stated first among ties
        unstated = len(answered) - len(stated)
        return Agreement(agreeing=ranked[0][1], total=total,
                         groups=tuple(n for _, n in ranked) + (1,) * unstated,
                         values=tuple(v for v, _ in ranked), by="final answer")
    groups: list[tuple[str, int]] = []  # (representative normalised text, size)
    for text in answered:
        norm = normalise(text)
        for i, (rep, size) in enumerate(groups):
            if _same_text(rep, norm):
                groups[i] = (rep, size + 1)
                break
        else:
            groups.append((norm, 1))
    sizes = sorted((n for _, n in groups), reverse=True)
    if not sizes or sizes[0] < 2:
        return None
    return Agreement(agreeing=sizes[0], total=total, groups=tuple(sizes), values=(), by="text")
