"""The agreement judge scored on a labelled corpus of layers: `python -m moa.judge.confusion [CORPUS.json]`.

A corpus is a JSON list of layers: `{"name", "answers": [text or null, …], "truth": "agree" | "split" |
"none", "groups": [[agent indices], …]}` (groups only where the truth has them). A claim is false when
it says "agreed" where the agents differ, "split" where they agree or with other groups, or anything
where the truth is "none". The table is truth × claim; the hard requirement is no false claim at all.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moa.judge.agreement import Agreement, measure

DEFAULT_CORPUS = Path("tests/moa/judge/agreement_corpus.json")
TRUTHS = ("agree", "split", "none")
CLAIMS = ("claimed agree", "claimed split", "silent")


@dataclass(frozen=True)
class Scored:
    """One layer's truth, what the judge claimed, and whether the claim was false."""

    name: str
    truth: str
    claim: str
    line: str | None
    false: bool


def score(case: dict[str, Any]) -> Scored:
    """Judge one corpus layer and compare with its label."""
    agreement = measure(case["answers"])
    claim = "silent" if agreement is None else ("claimed split" if agreement.dissent else "claimed agree")
    truth = case["truth"]
    false = agreement is not None and not _right(agreement, truth, case.get("groups"))
    return Scored(case["name"], truth, claim, agreement.sentence() if agreement else None, false)


def _right(agreement: Agreement, truth: str, groups: Sequence[Sequence[int]] | None) -> bool:
    if truth == "none" or groups is None:
        return False
    if (truth == "split") != agreement.dissent:
        return False
    return sorted(sorted(g) for g in agreement.members) == sorted(sorted(g) for g in groups)


def table(scored: Sequence[Scored]) -> str:
    """The confusion table as fixed-width text, then the false claims and the share read right."""
    counts = Counter((s.truth, s.claim) for s in scored)
    width = max(len(c) for c in CLAIMS) + 2
    lines = ["truth \\ judge".ljust(14) + "".join(c.rjust(width) for c in CLAIMS)]
    for truth in TRUTHS:
        lines.append(truth.ljust(14) + "".join(str(counts[(truth, c)]).rjust(width) for c in CLAIMS))
    answerable = [s for s in scored if s.truth != "none"]
    right = [s for s in answerable if s.claim != "silent" and not s.false]
    false = [s for s in scored if s.false]
    lines.append(f"{len(scored)} layers · false claims: {len(false)} · right verdicts on {len(right)} of "
                 f"{len(answerable)} layers that have one answer each ({len(right) / max(1, len(answerable)):.0%})")
    lines += [f"FALSE: {s.name}: {s.line}" for s in false]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_CORPUS
    cases = json.loads(path.read_text(encoding="utf-8"))
    scored = [score(case) for case in cases]
    print(table(scored))
    if "-v" in argv[1:]:
        for s in scored:
            print(f"{s.truth:>5} {s.claim:>13}  {s.name}: {s.line}")
    return 1 if any(s.false for s in scored) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
