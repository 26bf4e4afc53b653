"""Statistics a reader can trust, with the standard library only.

Accuracy gets a Wilson score interval (sound near 0 and 1 and for small n, unlike the normal
approximation). Two configs answering the same questions are compared paired: the difference in
accuracy with a seeded paired-bootstrap 95% interval, and McNemar's exact test on the questions where
exactly one of them was right.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054


def wilson(correct: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for `correct` of `n` (a sum of shares counts too); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0–1) by linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class PairedDifference:
    """B's accuracy minus A's on the questions both answered."""

    n: int
    difference: float
    ci_low: float
    ci_high: float
    only_a: int  # questions A got right and B wrong
    only_b: int
    p_value: float  # McNemar's exact two-sided test

    @property
    def clear(self) -> bool:
        """The 95% interval excludes no difference."""
        return self.ci_low > 0 or self.ci_high < 0


def paired_difference(a: Sequence[bool], b: Sequence[bool], *, resamples: int = 2000,
                      seed: int = 20240611) -> PairedDifference:
    """Paired difference of accuracy (b − a) with a seeded bootstrap 95% interval and McNemar's p."""
    if len(a) != len(b):
        raise ValueError("paired results need the same questions in the same order")
    n = len(a)
    deltas = [int(y) - int(x) for x, y in zip(a, b, strict=True)]
    only_a = sum(1 for d in deltas if d < 0)
    only_b = sum(1 for d in deltas if d > 0)
    if n == 0:
        return PairedDifference(0, 0.0, -1.0, 1.0, 0, 0, 1.0)
    rng = random.Random(seed)
    means = sorted(sum(deltas[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    low = means[int(0.025 * (resamples - 1))]
    high = means[math.ceil(0.975 * (resamples - 1))]
    return PairedDifference(n, sum(deltas) / n, low, high, only_a, only_b, mcnemar_exact(only_a, only_b))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against 1/2."""
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    k = min(only_a, only_b)
    # 1 << n rather than 2 ** n: the same integer, typed int (int ** int may be a float when n < 0)
    tail = sum(math.comb(discordant, i) for i in range(k + 1)) / (1 << discordant)
    return min(1.0, 2 * tail)


def difference_interval(success_a: float, n_a: int, success_b: float, n_b: int,
                        z: float = Z95) -> tuple[float, float, float]:
    """(b − a, low, high): the difference of two independent proportions with Newcombe's 95% interval
    (built from each side's Wilson interval; sound for small counts). With no data: (0, −1, 1)."""
    if n_a == 0 or n_b == 0:
        return 0.0, -1.0, 1.0
    pa, pb = success_a / n_a, success_b / n_b
    la, ua = wilson(success_a, n_a, z)
    lb, ub = wilson(success_b, n_b, z)
    difference = pb - pa
    low = difference - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = difference + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return difference, max(-1.0, low), min(1.0, high)
