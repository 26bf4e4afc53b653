"""How far one layer's answers agree, without another model call — claimed only where it can be seen.

Each answer's conclusion is read (`moa.judge.conclusion`): an ordering of two numbers, the larger or
smaller one, a quantity with its unit, a date, a choice, yes/no or a short name. A verdict needs every answer
that came to have a clear conclusion of one comparable kind; then equal conclusions agree ("3 of 3 agents
agreed") and different ones split, each group named as its agents wrote it ("agents split 2–1 (9.9 >
9.11 / 9.11 > 9.9)"). Anything else — prose, an unclear or doubtful conclusion, kinds that do not
compare — is None: silence is correct, a wrong claim is a defect. Agents that failed or were left out
count in the total and agree with no one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from moa.judge.conclusion import Conclusion, conclusion, settle


@dataclass(frozen=True)
class Agreement:
    """The groups of agreeing answers among `total` agents."""

    agreeing: int
    total: int
    groups: tuple[int, ...]  # sizes of the groups of agreeing answers, largest first (singletons too)
    values: tuple[str, ...]  # each group's answer as its first agent wrote it, same order
    members: tuple[tuple[int, ...], ...] = ()  # each group's agents (indices into the layer), same order

    @property
    def unanimous(self) -> bool:
        """Every agent of the layer answered and all concluded the same."""
        return self.agreeing == self.total

    @property
    def dissent(self) -> bool:
        """Some agent that answered concluded differently."""
        return len(self.groups) > 1

    def agreed(self) -> str:
        """"2 of 3 agents agreed": the largest group, whatever the others said."""
        return f"{self.agreeing} of {self.total} agents agreed"

    def sentence(self) -> str:
        """"3 of 3 agents agreed", or "agents split 2–1 (9.9 / 9.11)"."""
        if not self.dissent:
            return self.agreed()
        split = "–".join(str(n) for n in self.groups)
        return f"agents split {split} ({' / '.join(self.values)})"


Reader = Callable[[str], Conclusion | None]


def measure(texts: Sequence[str | None], read: Reader = conclusion) -> Agreement | None:
    """The agreement of one layer's answers (None for an agent that failed), or None when fewer than two
    answered or any answer's conclusion cannot be read and compared without doubt."""
    answered = [(i, t) for i, t in enumerate(texts) if t]
    if len(answered) < 2:
        return None
    read_ = [(i, read(t)) for i, t in answered]
    if any(c is None for _, c in read_):
        return None
    conclusions = _comparable([(i, c) for i, c in read_ if c is not None])
    if conclusions is None:
        return None
    groups: dict[tuple[object, ...], list[tuple[int, Conclusion]]] = {}
    for i, c in conclusions:
        groups.setdefault(c.key, []).append((i, c))
    ranked = sorted(groups.values(), key=lambda g: -len(g))  # stable: the first stated first among ties
    return Agreement(agreeing=len(ranked[0]), total=len(texts), groups=tuple(len(g) for g in ranked),
                     values=tuple(g[0][1].label for g in ranked),
                     members=tuple(tuple(i for i, _ in g) for g in ranked))


_COMPARISONS = {"order", "larger", "smaller"}


def _comparable(found: list[tuple[int, Conclusion]]) -> list[tuple[int, Conclusion]] | None:
    """The conclusions brought to one kind, or None when they are not of one comparable kind.

    "9.9 larger" is "9.9 > 9.11" when another agent ordered the same two numbers; quantities compare only
    within one dimension (5 km and 5000 m, never 5 km and 5)."""
    kinds = {c.kind for _, c in found}
    if kinds <= _COMPARISONS and len(kinds) > 1:
        pairs = {frozenset(c.key) for _, c in found if c.kind == "order"}
        if len(pairs) != 1:
            return None
        orders = [c for _, c in found if c.kind == "order"]
        joined: list[tuple[int, Conclusion]] = []
        for i, c in found:
            if c.kind == "order":
                joined.append((i, c))
                continue
            match = [o for o in orders if settle([o, c]) is not None]
            if not match or c.key[0] not in next(iter(pairs)):
                return None
            joined.append((i, match[0]))
        return joined
    if len(kinds) != 1:
        return None
    if kinds == {"quantity"}:
        values = {c.key[1] for _, c in found}
        if len({c.key[0] for _, c in found}) != 1 or any(a * 100 == b for a in values for b in values):  # type: ignore[operator]
            return None  # "50%" beside "50": a percent written two ways, or two answers — unclear
    if kinds == {"name"} and _overlapping({str(c.key[0]) for _, c in found}):
        return None
    if kinds == {"date"} and len({tuple(part is None for part in c.key) for _, c in found}) > 1:
        return None  # "October 1066" beside "14 October 1066": a month and a day in it, the same answer or not
    return found


def _overlapping(names: set[str]) -> bool:
    """Whether one name holds another ("new york" and "new york city"): the same place, or not — unclear."""
    return any(a != b and f" {a} " in f" {b} " for a in names for b in names)
