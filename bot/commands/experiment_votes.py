"""An experiment's evidence is people, not clicks: each member counts once per arm.

A member's say on an arm is their share of 👍 among their votes on that arm's answers (12 👍 and 0 👎 is
1.0; 1 👍 and 1 👎 is 0.5). An arm's liked share is the mean over its members, with a Wilson interval
on that many members. A difference between the arms is called clear only when at least
`CLEAR_MEMBERS` distinct members voted on each arm and the 95% interval of B − A (Newcombe's, built from
the two members' intervals) leaves out zero. One member voting many times is one member.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from moa.eval.stats import difference_interval, wilson
from storage.experiments import Arm

# Distinct members each arm needs before a difference may be called clear.
CLEAR_MEMBERS = 5


@dataclass(frozen=True)
class ArmVotes:
    """One arm's votes: clicks as pressed, and members counted once."""

    up: int
    down: int
    members: int
    liked: float  # the sum of members' 👍 shares: `liked / members` is the arm's liked share

    @property
    def share(self) -> float:
        return self.liked / self.members if self.members else 0.0

    def interval(self) -> tuple[float, float]:
        return wilson(self.liked, self.members)


def tally(votes: Iterable[tuple[Arm, str, int]]) -> dict[Arm, ArmVotes]:
    """Each arm's votes from (arm, member, +1/-1) rows."""
    per_member: dict[Arm, dict[str, list[int]]] = {"A": {}, "B": {}}
    for arm, member, vote in votes:
        per_member[arm].setdefault(member, []).append(vote)
    out: dict[Arm, ArmVotes] = {}
    for arm, members in per_member.items():
        pressed = [v for vs in members.values() for v in vs]
        liked = sum(sum(1 for v in vs if v > 0) / len(vs) for vs in members.values())
        out[arm] = ArmVotes(up=sum(1 for v in pressed if v > 0), down=sum(1 for v in pressed if v < 0),
                            members=len(members), liked=liked)
    return out


def verdict(a: ArmVotes, b: ArmVotes, name_a: str, name_b: str) -> str:
    """"Clear: …", or "Not clear yet: …" saying what is missing."""
    if not a.members or not b.members:
        return "Not clear yet: each arm needs 👍/👎 on its answers before they can be compared."
    difference, low, high = difference_interval(a.liked, a.members, b.liked, b.members)
    span = (f"{difference * 100:+.0f} points liked, B − A ({low * 100:+.0f} to {high * 100:+.0f}, 95%, "
            "each member counted once per arm)")
    fewest = min(a.members, b.members)
    if fewest < CLEAR_MEMBERS:
        return (f"Not clear yet: {span}; a clear difference needs votes from at least {CLEAR_MEMBERS} members on "
                f"each arm (A has {_members(a.members)}, B {_members(b.members)}).")
    if low > 0:
        return f"Clear: B `{name_b}` is liked more — {span}."
    if high < 0:
        return f"Clear: A `{name_a}` is liked more — {span}."
    return f"Not clear yet: {span}; more members' votes will tell."


def _members(n: int) -> str:
    return "1 member" if n == 1 else f"{n} members"


def members_phrase(n: int) -> str:
    """"from 1 member", "from 4 members"."""
    return f"from {_members(n)}"
