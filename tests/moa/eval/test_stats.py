"""The statistics behind the report: Wilson intervals, percentiles, paired differences, McNemar."""

from __future__ import annotations

import math

import pytest

from moa.eval.stats import difference_interval, mcnemar_exact, paired_difference, percentile, wilson


def test_wilson_matches_the_formula_and_stays_inside_zero_and_one() -> None:
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)  # nothing measured: anything is possible
    narrow, wide = wilson(500, 1000), wilson(5, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]  # more questions, a tighter interval


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([float(i) for i in range(1, 11)], 0.5) == pytest.approx(5.5)
    assert percentile([float(i) for i in range(1, 11)], 0.95) == pytest.approx(9.55)


def test_mcnemar_exact_is_a_two_sided_binomial_test() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 2 ** 10)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(2, 8) == pytest.approx(2 * sum(math.comb(10, i) for i in range(3)) / 2 ** 10)


def test_paired_difference_is_seeded_and_said_only_as_strongly_as_the_data_allow() -> None:
    a = [True] * 50 + [False] * 50
    b = [True] * 60 + [False] * 40  # b right on 10 more questions, never worse
    clear = paired_difference(a, b)
    assert clear.difference == pytest.approx(0.10) and clear.only_b == 10 and clear.only_a == 0
    assert clear.ci_low > 0 and clear.clear and clear == paired_difference(a, b)  # same seed, same interval
    mixed = paired_difference([True, False] * 10, [False, True] * 10)
    assert mixed.difference == 0 and mixed.ci_low < 0 < mixed.ci_high and not mixed.clear
    with pytest.raises(ValueError):
        paired_difference([True], [True, False])


def test_the_difference_of_two_proportions_has_newcombes_interval() -> None:
    difference, low, high = difference_interval(10, 20, 15, 20)
    assert difference == pytest.approx(0.25) and low < 0 < high  # 20 votes each: not clear yet
    difference, low, high = difference_interval(2, 40, 38, 40)
    assert difference == pytest.approx(0.9) and 0 < low < difference < high <= 1
    assert difference_interval(0, 0, 3, 4) == (0.0, -1.0, 1.0)
