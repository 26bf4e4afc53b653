"""How far one layer's answers agree, said in one line — or not at all when nothing is comparable."""

from __future__ import annotations

from moa.judge.agreement import measure
from moa.judge.conclusion import Conclusion


def test_answers_written_differently_that_conclude_the_same_agree() -> None:
    agreement = measure(["9.9 is larger than 9.11.", "The larger number is 9.9.", "**9.11 is smaller than 9.9!**"])
    assert agreement is not None and agreement.sentence() == "3 of 3 agents agreed" and agreement.unanimous


def test_a_failed_agent_agrees_with_no_one() -> None:
    agreement = measure(["Paris.", "The answer is Paris.", None])
    assert agreement is not None and agreement.sentence() == "2 of 3 agents agreed" and not agreement.unanimous
    assert not agreement.dissent


def test_free_prose_that_differs_claims_nothing() -> None:
    assert measure(["A long essay about rivers.", "A poem on mountains and lakes.", "Notes on cooking rice."]) is None
    assert measure(["only one answer"]) is None
    assert measure([None, None, "one left"]) is None


def test_one_unclear_answer_silences_the_layer() -> None:
    assert measure(["9.9 is larger than 9.11.", "9.9 is larger than 9.11.", "Hard to say without context."]) is None


def test_a_split_names_each_groups_conclusion_as_written() -> None:
    agreement = measure(["The answer is 5 km.", "**5 km**", "The answer is 5 m."])
    assert agreement is not None and agreement.sentence() == "agents split 2–1 (5 km / 5 m)"
    assert agreement.members == ((0, 1), (2,))


def test_contradicting_comparisons_never_agree() -> None:
    pairs = [("9.11 is larger than 9.9.", "9.11 is smaller than 9.9."),
             ("9.11 is not larger than 9.9.", "9.11 is larger than 9.9."),
             ("9.11比9.9大。", "9.11比9.9小。"),
             ("The low is minus 5 degrees.", "The low is 5 degrees."),
             ("The answer is 2,5.", "The answer is 3,5."),
             ("It takes 3 hours.", "It takes 3 minutes."),
             ("The answer is 10^3.", "The answer is 10^6."),
             ("The answer is B, not C.", "The answer is C, not B.")]
    for a, b in pairs:
        agreement = measure([a, b])
        assert agreement is None or agreement.dissent, (a, b)


def test_another_reader_can_be_given() -> None:
    finals = {"I think 9.9 is larger": "9.9", "Surely 9.9.": "9.9", "9.11 wins": "9.11"}

    def read(text: str) -> Conclusion:
        return Conclusion("quantity", ("", finals[text]), finals[text])

    agreement = measure(list(finals), read=read)
    assert agreement is not None and agreement.sentence() == "agents split 2–1 (9.9 / 9.11)"


def test_walls_of_digits_or_brackets_are_read_as_nothing() -> None:
    assert measure(["1" * 20000, "a" * 20000, "(" * 5000 + "x", "1 " * 5000]) is None


def test_thousands_grouped_by_spaces_are_one_number() -> None:
    agreement = measure(["The answer is **1 000 000**.", "Answer: 1,000,000", "That makes 1\u202f000\u202f000.",
                         "So the total is 1\u00a0000\u00a0000."])
    assert agreement is not None and agreement.sentence() == "4 of 4 agents agreed"
    assert measure(["Answer: 2 234", "The total is 2234."]) is not None


def test_digits_a_space_apart_in_prose_are_not_one_number() -> None:
    assert measure(["Buy **2 500 g packs**.", "Buy two 500 g packs."]) is None  # two packs, not 2 500 g
    assert measure(["Call 555 123 4567.", "Call 555 123 4568."]) is None
    assert measure(["The dice show 2 3.", "The dice show 23."]) is None
    assert measure(["1 000 is larger than 999.", "999 is larger than 0."]) is None  # "000" is no number
    assert measure(["Answer: 1 234,567", "Answer: 1234567"]) is None  # a decimal comma, or one more group?


def test_two_orderings_in_one_sentence_are_not_picked_from() -> None:
    # The first ordering is a hypothesis the sentence refutes: taking either one could invert the answer.
    refuted = "Pad 9.9 to 9.90. Then 9.11 > 9.90 would need 0.11 > 0.90, which is false."
    assert measure([refuted, "9.9 is larger than 9.11.", "9.9 > 9.11"]) is None
