"""What a run measured, per config and between configs, as data (`--json`) and as sentences."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from moa.eval.results import Outcome
from moa.eval.stats import PairedDifference, paired_difference, percentile, wilson


@dataclass(frozen=True)
class ConfigSummary:
    name: str
    n: int
    correct: int
    failed: int
    ci_low: float
    ci_high: float
    calls: int
    tokens_in: int
    tokens_cached: int | None
    tokens_out: int
    tokens_estimated: bool  # some call's tokens were counted from the text (its server said none)
    cost_usd: float | None  # None: some call's price is unknown
    median_s: float | None
    p95_s: float | None
    first_word_s: float | None  # median time to the answer's first word
    failures: tuple[str, ...]  # the distinct reasons, most common first

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def cost_per_answer(self) -> float | None:
        return self.cost_usd / self.n if self.cost_usd is not None and self.n else None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "n": self.n, "correct": self.correct, "failed": self.failed,
            "accuracy": self.accuracy, "ci_low": self.ci_low, "ci_high": self.ci_high, "calls": self.calls,
            "tokens": {"in": self.tokens_in, "cached": self.tokens_cached, "out": self.tokens_out,
                       "estimated": self.tokens_estimated},
            "cost_usd": self.cost_usd, "cost_per_answer_usd": self.cost_per_answer,
            "median_s": self.median_s, "p95_s": self.p95_s, "first_word_s": self.first_word_s,
            "failures": list(self.failures),
        }


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    difference: PairedDifference

    def as_json(self) -> dict[str, Any]:
        d = self.difference
        return {"a": self.a, "b": self.b, "n": d.n, "difference": d.difference, "ci_low": d.ci_low,
                "ci_high": d.ci_high, "only_a_right": d.only_a, "only_b_right": d.only_b,
                "mcnemar_p": d.p_value, "clear": d.clear}

    def sentence(self) -> str:
        """"article beats single:m by 6 points (−1 to 13)", said only as strongly as the interval allows."""
        d = self.difference
        better, worse = (self.b, self.a) if d.difference >= 0 else (self.a, self.b)
        size = abs(d.difference) * 100
        low, high = sorted((d.ci_low * 100, d.ci_high * 100)) if d.difference >= 0 else \
            sorted((-d.ci_high * 100, -d.ci_low * 100))
        span = f"({_points(low)} to {_points(high)}; {d.n} questions)"
        if d.difference == 0:
            return f"{self.a} and {self.b} got as many right {span}: no difference measured yet."
        if d.clear:
            return f"{better} beats {worse} by {size:.0f} points {span}."
        return f"{better} is ahead of {worse} by {size:.0f} points {span}, which is not a clear difference yet."


def _points(value: float) -> str:
    return f"{value:.0f}".replace("-", "−")


def summarise(name: str, outcomes: Sequence[Outcome]) -> ConfigSummary:
    answered = [o for o in outcomes if o.failed is None]
    times = [o.seconds for o in answered]
    firsts = [o.first_word_s for o in answered if o.first_word_s is not None]
    reasons: dict[str, int] = {}
    for o in outcomes:
        if o.failed is not None:
            reasons[o.failed] = reasons.get(o.failed, 0) + 1
    cached = [o.cached_tokens for o in outcomes]
    costs = [o.cost_usd for o in outcomes]
    correct = sum(o.correct for o in outcomes)
    low, high = wilson(correct, len(outcomes))
    return ConfigSummary(
        name=name, n=len(outcomes), correct=correct, failed=len(outcomes) - len(answered), ci_low=low, ci_high=high,
        calls=sum(o.calls for o in outcomes), tokens_in=sum(o.prompt_tokens for o in outcomes),
        tokens_cached=None if not cached or any(c is None for c in cached) else sum(c or 0 for c in cached),
        tokens_out=sum(o.completion_tokens for o in outcomes),
        tokens_estimated=any(o.tokens_estimated for o in outcomes),
        cost_usd=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
        median_s=statistics.median(times) if times else None, p95_s=percentile(times, 0.95),
        first_word_s=statistics.median(firsts) if firsts else None,
        failures=tuple(sorted(reasons, key=lambda r: -reasons[r])))


@dataclass(frozen=True)
class Report:
    set_name: str
    questions: int
    configs: tuple[ConfigSummary, ...]
    pairs: tuple[Pair, ...]

    def as_json(self) -> dict[str, Any]:
        return {"set": self.set_name, "questions": self.questions,
                "configs": [c.as_json() for c in self.configs], "pairs": [p.as_json() for p in self.pairs]}


def build_report(set_name: str, question_ids: Sequence[str], config_names: Sequence[str],
                 outcomes: dict[tuple[str, str], Outcome]) -> Report:
    """Summaries over the graded questions of this set, and every pair compared on the questions both answered."""
    per_config = {name: [outcomes[(q, name)] for q in question_ids if (q, name) in outcomes] for name in config_names}
    summaries = tuple(summarise(name, per_config[name]) for name in config_names)
    pairs = []
    for a, b in combinations(config_names, 2):
        shared = [q for q in question_ids if (q, a) in outcomes and (q, b) in outcomes]
        pairs.append(Pair(a, b, paired_difference([outcomes[(q, a)].correct for q in shared],
                                                  [outcomes[(q, b)].correct for q in shared])))
    return Report(set_name, len(question_ids), summaries, tuple(pairs))
