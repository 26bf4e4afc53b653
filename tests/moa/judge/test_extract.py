"""The final-answer extractor, graded on replies as models write them: one row per realistic reply."""

from __future__ import annotations

import pytest

from moa.judge.extract import Extracted, final_answer, grade, normalise_text

# (reply, kind, expected value) — the value the extractor must find, None when there is no answer.
NUMBER_CASES: list[tuple[str, str | None]] = [
    ("72", "72"),
    ("The answer is 72.", "72"),
    ("Natalia sold 48 clips in April and 24 in May, so 48 + 24 = 72.\n\n**Answer:** 72", "72"),
    ("She sold 48/2 = 24 clips in May.\nAltogether 48 + 24 = 72 clips.\n#### 72", "72"),
    ("Let me compute: 12 * 3 = 36, then 36 + 4 = 40.\n\n\\boxed{40}", "40"),
    ("Step 1: 5 apples. Step 2: 5 * 4 = 20.\nFinal answer: 20 apples", "20"),
    ("The total is $1,234.50.", "1234.5"),
    ("So he pays \\$1,200 in total.", "1200"),
    ("The answer is 1,000,000", "1000000"),
    ("The temperature drops to -3.5 degrees.", "-3.5"),
    ("Subtracting, 4 − 7 = −3, so the answer is −3.", "-3"),
    ("\\boxed{-12}", "-12"),
    ("That is 25% of the total, i.e. **0.25** as a fraction of one.", "0.25"),
    ("The answer is 25%.", "25"),
    ("It takes 3.50 hours.", "3.5"),
    ("The distance is 150 km.", "150"),
    ("They travel 60 km/h for 2.5 h, covering 150 km.", "150"),
    ("Answer: .5", "0.5"),
    ("The result is 7.0", "7"),
    ("x = 3/4", "0.75"),
    ("The probability is \\frac{1}{4}, so \\boxed{\\frac{1}{4}}", "0.25"),
    # A wrong final answer that mentions the right number (72) early: the final one counts.
    ("At first glance 72 looks right, but recounting the May sales gives 70.\nThe answer is 70.", "70"),
    ("If she had sold 72 clips... no. She sold 48 + 20 = 68 clips.\n#### 68", "68"),
    ("The answer is 12. Wait, I made an error. Recomputing: the answer is 15.", "15"),
    ("I first thought \\boxed{10} but the corrected answer is \\boxed{11}", "11"),
    # A stated answer wins over numbers after it.
    ("**Answer:** 42\n\nThis took 3 steps and about 2 minutes.", "42"),
    ("The answer is 9.9, because 9.90 > 9.11.", "9.9"),
    ("9.11 vs 9.9: compare tenths, 1 < 9, so 9.9 is larger.", "9.9"),
    ("The answer is: 5,280 feet", "5280"),
    ("The final answer is $\\boxed{2\\,016}$", "2016"),
    ("Total = 3 + 4 + 5 = 12.", "12"),
    ("The year after 2023 is 2024.", "2024"),
    ("There are 3 r's in strawberry.", "3"),
    ("**Final Answer:** 18", "18"),
    ("Final answer: -0.125", "-0.125"),
    ("The answer is +7", "7"),
    ("I cannot determine this from the information given.", None),
    ("", None),
    ("€45 each, 3 of them: €135.", "135"),
    ("So the train arrives 1 hour 45 minutes later, i.e. after 105 minutes.", "105"),
    ("The answer is 5 - 2 = 3 apples.", "3"),  # a stated equation: its result counts
    ("My answer is 8.", "8"),
    ("The answer is 15 apples (x = boxes = 3, each of 5).", "15"),
    ("Final answer: 1,234,567", "1234567"),
]


@pytest.mark.parametrize(("reply", "value"), NUMBER_CASES)
def test_the_final_number_of_a_reply_is_found(reply: str, value: str | None) -> None:
    found = final_answer(reply, "number")
    assert (found.value if found else None) == value


CHOICE_CASES: list[tuple[str, str | None]] = [
    ("(B)", "B"),
    ("Answer: B", "B"),
    ("B.", "B"),
    ("The answer is (C) because the others contradict clue 2.", "C"),
    ("Option A fails clue 1; option D fails clue 3. So the answer is B.", "B"),
    ("Looking at (A) and (D), only (D) fits.", "D"),
    ("\\boxed{C}", "C"),
    ("**Answer:** (A)", "A"),
    ("Let's check each.\nA) wrong\nB) wrong\nAnswer: C", "C"),
    ("None of these options work.", None),
    ("The correct option is C.", "C"),
    ("I'd pick choice (D) here.", "D"),
]


@pytest.mark.parametrize(("reply", "value"), CHOICE_CASES)
def test_a_choice_is_read_on_its_letter(reply: str, value: str | None) -> None:
    found = final_answer(reply, "choice")
    assert (found.value if found else None) == value


AUTO_CASES: list[tuple[str, Extracted | None]] = [
    ("Yes.", Extracted("yesno", "yes")),
    ("No — Alice cannot be the oldest, since Bob is older than her.", Extracted("yesno", "no")),
    ("Bob is older, so the answer is yes.", Extracted("yesno", "yes")),
    ("**Answer:** No", Extracted("yesno", "no")),
    ("The answer is 72.", Extracted("number", "72")),
    ("The answer is (B).", Extracted("choice", "B")),
    ("\\boxed{Paris}", Extracted("text", "paris")),
    ("Working through it, 3 + 4 = 7.", Extracted("number", "7")),
]


@pytest.mark.parametrize(("reply", "expected"), AUTO_CASES)
def test_auto_picks_the_kind_from_the_stated_answer(reply: str, expected: Extracted | None) -> None:
    assert final_answer(reply) == expected


GRADE_CASES: list[tuple[str, str, str, bool]] = [
    ("The answer is 72.", "72", "number", True),
    ("#### 72", "Natalia sold 48/2 = 24 clips in May.\n#### 72", "auto", True),
    ("She sold 72 clips? No: 48 + 20 = 68.", "72", "number", False),
    ("The total is 1,234.", "1234", "number", True),
    ("The total is 1234.0", "1,234", "auto", True),
    ("It is 9.11.", "9.9", "number", False),
    ("9.9 is larger than 9.11.", "9.9", "number", False),  # no stated answer: the last number (9.11) counts
    ("9.9 is larger than 9.11. The answer is 9.9.", "9.9", "auto", True),
    ("-3", "-3", "auto", True),
    ("3", "-3", "auto", False),
    ("Answer: B", "B", "choice", True),
    ("Answer: B", "(C)", "auto", False),
    ("Yes, because 17 is prime.", "yes", "auto", True),
    ("No.", "yes", "auto", False),
    ("The capital is **Paris**.", "Paris", "text", True),
    ("Answer: the Eiffel Tower", "eiffel tower", "text", True),
    ("Answer: Lyon", "Paris", "text", False),
    ("The answer is 2024-03-15.", "2024-03-15", "text", True),
    ("It is 42 apples.", "42 apples", "auto", True),
    ("I don't know.", "5", "number", False),
]


@pytest.mark.parametrize(("reply", "expected", "kind", "right"), GRADE_CASES)
def test_grading_against_the_expected_answer(reply: str, expected: str, kind: str, right: bool) -> None:
    assert grade(reply, expected, kind) is right  # type: ignore[arg-type]


def test_text_normalisation_folds_case_accents_punctuation_and_articles() -> None:
    assert normalise_text("The  Café-Tower.") == "cafe tower"


def test_the_table_is_big_enough_to_trust() -> None:
    assert len(NUMBER_CASES) + len(CHOICE_CASES) + len(AUTO_CASES) + len(GRADE_CASES) >= 60


def test_echoing_the_question_is_not_an_answer() -> None:
    question = "Which number is larger: 7.3 or 7.99? Give the larger number."
    assert not grade("Let me think about it. Which is larger, 7.3 or 7.99?", "7.99", "number", question)
    assert not grade("Which number is larger: 7.3 or 7.99? Give the larger number.", "7.99", "number", question)
    assert grade("7.99 is larger. Anything else?", "7.99", "number", question)
    assert grade("The answer is 7.99.", "7.99", "number", question)
    choices = "Which planet is largest? (A) Mars (B) Jupiter (C) Venus"
    assert not grade("You asked: Which planet is largest? (A) Mars (B) Jupiter (C) Venus", "B", "choice", choices)
    assert grade("The answer is (B) Jupiter.", "B", "choice", choices)
