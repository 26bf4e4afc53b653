"""The agreement judge on a labelled corpus of layers written the way chat models write (reasoning first,
conclusions in bold or the middle, distractor numbers, negation, both directions, units, decimal commas,
exponents, fractions and percent, choices, yes/no, names, Chinese). The corpus grows with every defect
found: add the layer to agreement_corpus.json with its truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moa.judge.confusion import score, table

CORPUS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "agreement_corpus.json").read_text(encoding="utf-8"))


def test_the_corpus_is_large_and_labelled() -> None:
    assert len(CORPUS) >= 60
    assert {case["truth"] for case in CORPUS} == {"agree", "split", "none"}
    for case in CORPUS:
        assert case["truth"] == "none" or case["groups"], case["name"]


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_the_judge_never_claims_what_the_agents_did_not_conclude(case: dict[str, Any]) -> None:
    scored = score(case)
    assert not scored.false, f"{case['name']}: said {scored.line!r} where the truth is {case['truth']}"


def test_a_split_names_only_answers_its_agents_gave() -> None:
    for case in CORPUS:
        scored = score(case)
        if scored.claim != "claimed split" or scored.line is None:
            continue
        labels = scored.line.split("(", 1)[1].rstrip(")").split(" / ")
        texts = " ".join(a for a in case["answers"] if a)
        for label in labels:
            for part in label.replace(" > ", "\0").replace(" larger", "").replace(" smaller", "").split("\0"):
                assert part in texts, f"{case['name']}: {part!r} is in no agent's answer"


def test_the_judge_gives_a_verdict_on_most_layers_that_have_one() -> None:
    scored = [score(case) for case in CORPUS]
    answerable = [s for s in scored if s.truth != "none"]
    right = [s for s in answerable if s.claim != "silent" and not s.false]
    assert len(right) >= len(answerable) / 2, table(scored)
