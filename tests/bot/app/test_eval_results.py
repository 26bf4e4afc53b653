"""`moa-bot eval` follows the set it is given and survives what happens to its results file: a changed
expected answer is graded again without a call, a cut last line or stray bytes cost nothing and say so
once (the file is mended), a BOM is accepted, and lines left out of a set are named. Real groq SDK against
the fake Groq."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.app.eval_command import evaluate
from bot.settings import Settings
from moa.config.schema import STRONG
from tests.fakes.groq_server import FakeGroq, GradedQuestions

SOLO = f"single:{STRONG}"


def _settings(fake: FakeGroq, tmp_path: Path) -> Settings:
    return Settings.load(env={"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url,
                              "XDG_CACHE_HOME": str(tmp_path / "cache")}, dotenv=None)


def _questions(n: int) -> dict[str, str]:
    return {f"Ada has {k} boxes of 12 eggs. How many eggs?": str(12 * k) for k in range(3, 3 + n)}


def _write_set(path: Path, answers: dict[str, str], *, bom: bool = False, extra: str = "") -> None:
    text = "".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in answers.items()) + extra
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


async def _run(path: Path, fake: FakeGroq, tmp_path: Path, answers: Path) -> dict[str, object]:
    out_json = tmp_path / "report.json"
    assert await evaluate(str(path), [SOLO], _settings(fake, tmp_path), json_out=out_json, resume=answers) == 0
    [config] = json.loads(out_json.read_text(encoding="utf-8"))["configs"]
    assert isinstance(config, dict)
    return config


async def _first_run(n: int, fake: FakeGroq, tmp_path: Path) -> tuple[dict[str, str], Path, Path, dict[str, object]]:
    """A set of `n` questions the fake always answers right, run once: (truth, set file, results file, report)."""
    truth = _questions(n)
    fake.reply = GradedQuestions(truth, rates={STRONG: 1.0}).reply
    path, answers = tmp_path / "set.jsonl", tmp_path / "answers.jsonl"
    _write_set(path, truth)
    return truth, path, answers, await _run(path, fake, tmp_path, answers)


async def test_a_changed_expected_answer_is_graded_again_without_a_call(
        fake_groq: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth, path, answers, first = await _first_run(6, fake_groq, tmp_path)
    assert first["correct"] == 6
    asked = len(fake_groq.calls)

    _write_set(path, {q: str(int(a) + 1) for q, a in truth.items()})  # every expected answer edited
    capsys.readouterr()
    again = await _run(path, fake_groq, tmp_path, answers)
    assert again["correct"] == 0 and again["n"] == 6  # the truth now, not the old grades
    assert len(fake_groq.calls) == asked  # the kept replies were graded again, nothing asked
    assert "6 kept answers graded again against the set's changed expected answers (no calls)" in \
        capsys.readouterr().err

    _write_set(path, truth)  # and back: right again, still without a call
    assert (await _run(path, fake_groq, tmp_path, answers))["correct"] == 6 and len(fake_groq.calls) == asked


async def test_a_cut_last_line_and_stray_bytes_lose_nothing_and_count_nothing_twice(
        fake_groq: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, path, answers, _ = await _first_run(4, fake_groq, tmp_path)
    lines = answers.read_bytes().splitlines(keepends=True)
    assert len(lines) == 4
    stray = lines[0].replace(b"the answer is", b"the answer \xff\xfe is", 1)  # not UTF-8, inside the reply
    assert stray != lines[0]
    answers.write_bytes(stray + b"".join(lines[1:3]) + lines[3][: len(lines[3]) // 2])  # killed mid-line
    asked = len(fake_groq.calls)
    capsys.readouterr()

    config = await _run(path, fake_groq, tmp_path, answers)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "1 line of" in err and "could not be read" in err and "asked again" in err
    assert "held bytes that are not UTF-8" in err
    assert len(fake_groq.calls) == asked + 1  # only the cut answer was asked again
    assert config["n"] == 4 and config["correct"] == 4  # none lost, none counted twice

    # The file was mended once: the cut line moved beside it, the rest written back whole and in UTF-8.
    assert (tmp_path / "answers.jsonl.unreadable").read_bytes() == lines[3][: len(lines[3]) // 2] + b"\n"
    assert "moved to" in err and "answers.jsonl.unreadable" in err
    answers.read_bytes().decode("utf-8")

    asked = len(fake_groq.calls)
    config = await _run(path, fake_groq, tmp_path, answers)  # the answer after the cut line was kept whole
    assert len(fake_groq.calls) == asked and config["n"] == 4
    assert "could not be read" not in (err := capsys.readouterr().err) and "not UTF-8" not in err  # said once


async def test_a_bom_is_accepted_and_left_out_lines_are_named(
        fake_groq: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = _questions(2)
    fake_groq.reply = GradedQuestions(truth, rates={STRONG: 1.0}).reply
    first = next(iter(truth))
    extra = (json.dumps({"question": first, "answer": "99"}) + "\n"
             + json.dumps({"question": "  ", "answer": "1"}) + "\n")
    path = tmp_path / "set.jsonl"
    _write_set(path, truth, bom=True, extra=extra)
    config = await _run(path, fake_groq, tmp_path, tmp_path / "answers.jsonl")
    err = capsys.readouterr().err
    assert config["n"] == 2
    assert "set.jsonl line 3 repeats the question of line 1 with another answer ('99'; line 1's '36' is kept)" in err
    assert "set.jsonl line 4: the question is empty; that line is left out." in err
