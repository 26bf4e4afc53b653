"""Dates as answers: one day however it is written, and silence where a date could be read two ways or is
only a bound, a part of a month, or a moment in a day."""

from __future__ import annotations

import pytest

from moa.judge.agreement import measure
from moa.judge.conclusion import conclusion
from moa.judge.dates import dates

HASTINGS = ["14 October 1066", "October 14th, 1066", "the 14th of Oct. 1066", "14-Oct-1066", "1066-10-14",
            "14/10/1066", "10/14/1066", "14.10.1066", "1066年10月14日", "公元1066年10月14日", "14 October 1066 AD"]


@pytest.mark.parametrize("written", HASTINGS)
def test_one_day_written_any_way_is_one_date(written: str) -> None:
    found = dates(f"It was fought on {written}.")
    assert [f.date.key for f in found if f.date] == [(1066, 10, 14)], written


@pytest.mark.parametrize("written", ["03/04/2025", "3.4.2025", "3/4/25", "2025-07-21T10:00", "2025-07-21 10:30",
                                     "31 April 2020", "14/13/2025"])
def test_dates_that_read_two_ways_or_none_are_unreadable(written: str) -> None:
    assert [f.date for f in dates(f"Due {written}.")] == [None], written


def test_a_month_and_a_year_or_an_era_are_dates_of_their_own() -> None:
    found = dates("October 1066, 1066年10月, 44 BC, AD 1066, 公元前44年, 04/04/2025")
    assert [f.date.key for f in found if f.date] == [(1066, 10, None), (1066, 10, None), (-44, None, None),
                                                     (1066, None, None), (-44, None, None), (2025, 4, 4)]
    assert dates("you may 5 times; Decimal 5; a 3-4-5 triangle; 1–14 October; 2 500 ml") == []


def test_dates_written_differently_agree_and_different_dates_split() -> None:
    agreement = measure(["The battle was on Oct. 14, 1066.", "**14 October 1066**", "答案：1066年10月14日",
                         "It was 14 October 1066, not 15 October 1066."])
    assert agreement is not None and agreement.sentence() == "4 of 4 agents agreed"
    split = measure(["It happened in October 1066.", "It happened in November 1066."])
    assert split is not None and split.sentence() == "agents split 1–1 (October 1066 / November 1066)"
    era = measure(["Caesar died in 44 BC.", "Caesar died in 44 AD."])
    assert era is not None and era.sentence() == "agents split 1–1 (44 BC / 44 AD)"


@pytest.mark.parametrize(("a", "b"), [
    ("It was before 14 October 1066.", "It was on 14 October 1066."),
    ("File it **by 15 April 2025**.", "File it on 15 April 2025."),
    ("It was late October 1066.", "It was early October 1066."),
    ("It was mid-October 1066.", "It was mid-November 1066."),
    ("威廉于1066年9月底登陆。", "威廉于1066年9月初登陆。"),
    ("1066年10月14日之前", "1066年10月14日"),
    ("14 October 1066 was a Saturday.", "14 October 1066 was a Friday."),
    ("The call is at 09:30 on **14 March 2025**.", "The call is at 10:30 on **14 March 2025**."),
    ("1066年10月14日下午三点", "1066年10月14日上午十点"),
    ("It ended in October 1066.", "It ended on 14 October 1066."),
    ("The due date is 03/04/2025.", "The due date is 03/04/2025."),
    ("On 14 October 1066, 7 000 men fought.", "On 14 October 1066, 8 000 men fought."),
    ("It was 14 October 1066 or so.", "It was 14 October 1066."),
    ("It was c. 14 October 1066.", "It was 14 October 1066."),
    ("It was ca. 1066.", "It was 1066."),
    ("The Julian date is 14 October 1066.", "The Gregorian date is 20 October 1066."),
    ("It launches on 14 March 2025 JST.", "It launches on 13 March 2025 EST."),
    ("It ships in spring 2025.", "It ships in autumn 2025."),
    ("It ships in Q1 2025.", "It ships in Q3 2025."),
    ("2025年春发布。", "2025年秋发布。"),
    ("It was before 1066.", "It was in 1066."),
    ("It was in late 1066.", "It was in early 1066."),
])
def test_a_date_that_is_a_bound_a_part_or_a_moment_claims_nothing(a: str, b: str) -> None:
    assert measure([a, b]) is None, (a, b)


def test_a_dates_digits_are_never_numbers() -> None:
    assert conclusion("2025-07-21 > 2025-07-20") is None
    assert conclusion("In mid-October 1066.") is None  # not 1066
    assert conclusion("The Normans won in October 1066.") != conclusion("The Normans won in 1066.")

