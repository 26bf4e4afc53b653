"""Question sets: the bundled generated sets, and JSONL files (GSM8K's `#### N` answers included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moa.errors import ConfigError
from moa.eval.sets import BUNDLED, listing, load_set
from moa.judge.extract import grade


@pytest.mark.parametrize("name", list(BUNDLED))
def test_a_bundled_set_is_the_same_every_time_and_graded_by_its_own_answers(name: str) -> None:
    questions = load_set(name)
    assert questions == load_set(name) and len({q.id for q in questions}) == len(questions) == BUNDLED[name].size
    for q in questions:
        assert grade(f"Let me work it out. The answer is {q.answer}.", q.answer, q.kind), q
        assert not grade("The answer is something else entirely.", q.answer, q.kind), q


def test_decimal_comparisons_include_the_trap() -> None:
    # The 9.11-vs-9.9 trap: the longer decimal is the smaller number in some questions.
    traps = [q for q in load_set("decimals") if len(q.answer.split(".")[1]) == 1]
    assert traps and all(q.kind == "number" for q in traps)


def test_list_names_every_set_with_its_size() -> None:
    rows = {name: size for name, size, _ in listing()}
    assert rows == {**{n: s.size for n, s in BUNDLED.items()}, "mixed": len(load_set("mixed"))}


def test_a_jsonl_file_with_gsm8k_answers(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"question": "2 + 2?", "answer": "2 + 2 = 4\n#### 4"}) + "\n\n"
                    + json.dumps({"question": "Pick one", "answer": "B", "kind": "choice"}) + "\n"
                    + json.dumps({"question": "2 + 2?", "answer": "4"}) + "\n", encoding="utf-8")
    first, second = load_set(str(path))  # the repeated question is kept once
    assert grade("So it is 4.", first.answer, first.kind) and second.kind == "choice"


@pytest.mark.parametrize(("content", "says"), [
    ("not json\n", "line 1 is not JSON"),
    ('{"question": "q"}\n', 'line 1 needs "question" (text) and "answer"'),
    ('{"question": "q", "answer": "1", "kind": "essay"}\n', '"kind" is number, choice or text'),
    ("\n", "has no questions"),
])
def test_a_bad_file_is_a_sentence_naming_the_line(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load_set(str(path))
    with pytest.raises(ConfigError, match="Cannot read the question set"):
        load_set(str(tmp_path / "missing.jsonl"))
