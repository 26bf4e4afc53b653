"""How far one layer's answers agree, said in one line — or not at all when nothing is comparable."""

from __future__ import annotations

from moa.judge.agreement import measure


def test_near_identical_answers_agree_whatever_their_case_and_punctuation() -> None:
    agreement = measure(["9.9 is larger than 9.11.", "9.9 is larger than 9.11", "**9.9 is LARGER than 9.11!**"])
    assert agreement is not None and agreement.sentence() == "3 of 3 agents agreed" and agreement.unanimous


def test_a_failed_agent_agrees_with_no_one() -> None:
    agreement = measure(["Paris.", "paris", None])
    assert agreement is not None and agreement.sentence() == "2 of 3 agents agreed"


def test_two_matching_texts_and_one_other_are_a_split() -> None:
    agreement = measure(["Paris.", "paris", "Lyon, without a doubt, is the capital."])
    assert agreement is not None and agreement.sentence() == "agents split 2–1"
    assert agreement.agreed() == "2 of 3 agents agreed"


def test_free_prose_that_differs_claims_nothing() -> None:
    assert measure(["A long essay about rivers.", "A poem on mountains and lakes.", "Notes on cooking rice."]) is None
    assert measure(["only one answer"]) is None
    assert measure([None, None, "one left"]) is None


def test_stated_final_answers_are_compared_and_named_in_a_split() -> None:
    finals = {"I think 9.9 is larger": "9.9", "Surely 9.9.": "9.9", "9.11 wins": "9.11"}
    agreement = measure(list(finals), final_of=finals.get)
    assert agreement is not None and agreement.by == "final answer"
    assert agreement.sentence() == "agents split 2–1 (9.9 / 9.11)"


def test_the_shared_extractor_compares_final_answers_written_differently() -> None:
    agreement = measure(["Comparing tenths, the answer is 9.9.", "9.9 is larger than 9.11, so: **Answer:** 9.9",
                         "The answer is 9.11"])
    assert agreement is not None and agreement.by == "final answer"
    assert agreement.sentence() == "agents split 2–1 (9.9 / 9.11)"
    agreement = measure(["Yes, it is.", "yes", "Yes — clearly."])
    assert agreement is not None and agreement.sentence() == "3 of 3 agents agreed"
