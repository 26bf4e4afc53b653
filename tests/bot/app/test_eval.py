"""`moa-bot eval` end to end: the real groq SDK against the fake Groq in its graded-question mode."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.eval_command import evaluate
from bot.settings import Settings
from moa.config.schema import FAST, QWEN, STRONG, preset
from moa.eval.sets import Question, load_set
from tests.bot.app.helpers import ROOT, Terminal, clean_env
from tests.fakes.groq_server import FakeCall, FakeGroq, GradedQuestions

RATES = {FAST: 0.8, QWEN: 0.6, STRONG: 0.5}
SOLO = f"single:{STRONG}"


def graded(fake: FakeGroq, questions: list[Question]) -> GradedQuestions:
    mode = GradedQuestions({q.question: q.answer for q in questions}, rates=RATES)
    fake.reply = mode.reply
    return mode


def settings(fake: FakeGroq, tmp_path: Path) -> Settings:
    return Settings.load(env={"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url,
                              "XDG_CACHE_HOME": str(tmp_path / "cache")}, dotenv=None)


def by_name(report: dict[str, object]) -> dict[str, dict[str, object]]:
    configs = report["configs"]
    assert isinstance(configs, list)
    return {c["name"]: c for c in configs}


def asked_for(call: FakeCall, config: str) -> bool:
    """Whether `call` was part of `config`'s answer: the lone model's call saw no answers; lite's did, or
    went to a proposer."""
    if config == SOLO:
        return call.model == STRONG and call.seen_answers == 0
    return call.model != STRONG or call.seen_answers > 0


def is_final(call: FakeCall, config: str) -> bool:
    """The call that wrote `config`'s answer: lite's aggregator saw answers, the lone model saw none."""
    return call.stream and call.model == STRONG and (call.seen_answers > 0) == (config == "lite")


async def test_the_report_counts_what_the_fake_answered(fake_groq: FakeGroq, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    questions = load_set("mixed")[:30]  # every bundled set in turn: numbers, dates as text, yes/no and names
    mode = graded(fake_groq, questions)
    out_json = tmp_path / "report.json"
    code = await evaluate("mixed", ["lite", SOLO], settings(fake_groq, tmp_path), limit=30, json_out=out_json)
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out_json.read_text(encoding="utf-8"))
    configs = by_name(report)
    assert list(configs) == ["lite", SOLO]  # each name exactly as given
    assert configs["lite"]["correct"] == mode.right_count(STRONG, shown=True)
    assert configs[SOLO]["correct"] == mode.right_count(STRONG, shown=False)
    assert all(c["n"] == len(questions) for c in configs.values())
    assert configs["lite"]["calls"] == 3 * len(questions) and configs[SOLO]["calls"] == len(questions)
    assert sum(c["calls"] for c in configs.values()) == len(fake_groq.calls)
    prompt = sum(c.usage["prompt_tokens"] for c in fake_groq.calls if c.usage)
    assert sum(c["tokens"]["in"] for c in configs.values()) == prompt
    for c in configs.values():
        assert c["ci_low"] <= c["accuracy"] <= c["ci_high"] and c["cost_usd"] > 0 and c["median_s"] is not None
    (pair,) = report["pairs"]
    assert (pair["a"], pair["b"]) == ("lite", SOLO)
    assert pair["difference"] == pytest.approx((configs[SOLO]["correct"] - configs["lite"]["correct"]) / len(questions))
    assert pair["ci_low"] <= pair["difference"] <= pair["ci_high"]
    assert "lite" in out and SOLO in out and "accuracy (95% CI)" in out and "points" in out
    assert f"[{2 * len(questions)}/{2 * len(questions)}]" in err  # plain progress lines off a terminal


async def test_the_report_counts_prompt_tokens_served_from_the_cache(fake_groq: FakeGroq, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    fake_groq.prefix_cache = True  # Groq's prefix caching: each question repeats the system prompt
    questions = load_set("mixed")[:6]
    graded(fake_groq, questions)
    out_json = tmp_path / "report.json"
    code = await evaluate("mixed", ["lite", SOLO], settings(fake_groq, tmp_path), limit=6, json_out=out_json)
    out, err = capsys.readouterr()
    assert code == 0, err
    configs = by_name(json.loads(out_json.read_text(encoding="utf-8")))
    for name, summary in configs.items():
        served = sum(c.cached_tokens for c in fake_groq.calls if c.usage and asked_for(c, name))
        assert served > 0  # every call after a model's first shares at least its system prompt
        tokens = summary["tokens"]
        assert isinstance(tokens, dict) and tokens["cached"] == served
        assert f"({served:,} cached)" in out  # the table says it beside tokens in


async def test_a_gsm8k_file_is_graded_on_its_final_number(fake_groq: FakeGroq, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    lines = [{"question": f"Ada has {n} boxes of 12 eggs. How many eggs?",
              "answer": f"{n} * 12 = {n * 12}\n#### {n * 12:,}"} for n in (3, 17, 90, 101)]
    path = tmp_path / "gsm8k.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    mode = GradedQuestions({line["question"]: line["answer"].rsplit("#### ", 1)[1].replace(",", "")
                            for line in lines}, rates=RATES)
    fake_groq.reply = mode.reply
    exported = tmp_path / "mine.json"  # a config file in the export format, named as typed
    exported.write_text(preset("lite").export_json(), encoding="utf-8")
    out_json = tmp_path / "r.json"
    assert await evaluate(str(path), [SOLO, str(exported)], settings(fake_groq, tmp_path), json_out=out_json) == 0
    configs = by_name(json.loads(out_json.read_text(encoding="utf-8")))
    assert configs[SOLO]["n"] == 4 and configs[SOLO]["correct"] == mode.right_count(STRONG, shown=False)
    assert configs[str(exported)]["n"] == 4
    assert configs[str(exported)]["correct"] == mode.right_count(STRONG, shown=True)
    capsys.readouterr()


async def test_a_failed_answer_is_counted_as_failed_with_its_reason(fake_groq: FakeGroq, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    graded(fake_groq, load_set("letters"))
    key = "gsk_live_8f3b2c9d4e5a6b7c8d9e0f1a"
    fake_groq.fail(STRONG, 400, times=1, message=f"This question upset the model (key {key}).")
    out_json = tmp_path / "r.json"
    s = Settings.load(env={"GROQ_API_KEY": key, "GROQ_BASE_URL": fake_groq.base_url}, dotenv=None)
    assert await evaluate("letters", [SOLO], s, limit=3, json_out=out_json) == 0
    (solo,) = json.loads(out_json.read_text(encoding="utf-8"))["configs"]
    assert solo["n"] == 3 and solo["failed"] == 1
    assert any("upset the model" in reason for reason in solo["failures"])
    out, err = capsys.readouterr()
    assert "upset the model" in out
    kept = (tmp_path / "r.answers.jsonl").read_text(encoding="utf-8") + out_json.read_text(encoding="utf-8")
    assert key not in kept + out + err  # the secret is masked wherever the reason goes


async def test_bad_input_is_a_sentence_and_asks_nothing(fake_groq: FakeGroq, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    s = settings(fake_groq, tmp_path)
    assert await evaluate("decimals", ["no-such-preset"], s) == 2
    assert "There is no preset called 'no-such-preset'" in capsys.readouterr().err
    assert await evaluate("nope", ["lite"], s) == 2
    assert "There is no question set called 'nope'" in capsys.readouterr().err
    assert await evaluate("decimals", ["single:not/a-model"], s) == 2
    assert "not/a-model is not served now" in capsys.readouterr().err
    assert await evaluate("decimals", ["lite", "lite"], s) == 2
    assert "given twice" in capsys.readouterr().err
    assert not fake_groq.calls


async def test_set_list_names_the_bundled_sets_with_their_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert await evaluate("list", [], Settings.load(env={}, dotenv=None)) == 0
    out = capsys.readouterr().out
    for name in ("decimals", "arithmetic", "dates-units", "letters", "logic", "mixed"):
        assert name in out and str(len(load_set(name))) in out


async def test_the_chart_is_a_real_png(fake_groq: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    graded(fake_groq, load_set("decimals"))
    chart = tmp_path / "chart.png"
    s = settings(fake_groq, tmp_path)
    assert await evaluate("decimals", ["lite", SOLO], s, limit=4, chart_out=chart) == 0
    data = chart.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    calls = len(fake_groq.calls)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert await evaluate("decimals", ["lite", SOLO], s, limit=4, chart_out=tmp_path / "none.png") == 0
    assert "pip install 'moa-bot[chart]'" in capsys.readouterr().err
    assert not (tmp_path / "none.png").exists() and len(fake_groq.calls) == calls  # graded already: nothing asked


def _results(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.endswith("}")]


async def test_interrupted_and_run_again_nothing_is_lost_or_asked_twice(fake_groq: FakeGroq, tmp_path: Path) -> None:
    questions = load_set("arithmetic")[:8]
    mode = graded(fake_groq, questions)
    fake_groq.latency = 0.05
    answers = tmp_path / "answers.jsonl"
    out_json = tmp_path / "report.json"
    args = [sys.executable, "-m", "bot.app.cli", "eval", "--set", "arithmetic", "--limit", "8", "--config", "lite",
            "--config", SOLO, "--resume", str(answers), "--json", str(out_json)]
    env = clean_env(GROQ_API_KEY="gsk_test", GROQ_BASE_URL=fake_groq.base_url, PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(*args, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    await fake_groq.wait_for(lambda _f: len(_results(answers)) >= 3, timeout=60)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 130, err.decode()
    assert "Stopped:" in err.decode() and "run the same command again" in err.decode()
    kept = {(r["question_id"], r["config"]) for r in _results(answers)}
    assert 3 <= len(kept) < 16 and not out_json.exists()
    asked_before = len(fake_groq.calls)

    proc = await asyncio.create_subprocess_exec(*args, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    assert "lite" in out.decode() and SOLO in out.decode()  # the report, on stdout
    assert f"Continuing: {len(kept)} of 16 answers were graded already" in err.decode()
    records = _results(answers)
    assert len(records) == len({(r["question_id"], r["config"]) for r in records}) == 16  # none lost, none twice
    text_of = {q.id: q.question for q in questions}
    for question_id, config in kept:  # what was graded before was not asked again
        again = [c for c in fake_groq.calls[asked_before:]
                 if c.question == text_of[question_id] and asked_for(c, config)]
        assert again == [], (question_id, config)
    configs = by_name(json.loads(out_json.read_text(encoding="utf-8")))
    for name in ("lite", SOLO):
        last_final = {}  # each question's answer is the last one the fake delivered for it
        for call in fake_groq.calls:
            if is_final(call, name) and call.status == 200 and not call.cancelled:
                last_final[call.question] = mode.is_right(call)
        assert len(last_final) == 8 and configs[name]["correct"] == sum(bool(v) for v in last_final.values())


async def test_plan_says_what_the_run_asks_and_asks_nothing(fake_groq: FakeGroq, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    s = Settings.load(env={"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake_groq.base_url,
                           "MOA_LIMITS": f"{STRONG}=30rpm+8000tpm,{FAST}=30rpm+8000tpm,{QWEN}=30rpm+8000tpm"},
                      dotenv=None)
    assert await evaluate("decimals", ["lite", SOLO], s, limit=10, plan_only=True) == 0
    out = capsys.readouterr().out
    assert "20 answers to go: up to 40 calls" in out  # lite: 2 proposers + the aggregator; the lone model: 1
    assert "8,000 tokens / 60 s" in out and "takes at least" in out
    assert not fake_groq.calls


async def test_on_a_terminal_progress_is_a_bar_with_an_eta(fake_groq: FakeGroq, tmp_path: Path) -> None:
    graded(fake_groq, load_set("logic"))
    terminal = Terminal([sys.executable, "-m", "bot.app.cli", "eval", "--set", "logic", "--limit", "3", "--config",
                         SOLO, "--resume", str(tmp_path / "a.jsonl")], cwd=tmp_path,
                        env=clean_env(GROQ_API_KEY="gsk_test", GROQ_BASE_URL=fake_groq.base_url,
                                      PYTHONPATH=str(ROOT), COLUMNS="200"))
    try:
        screen = await terminal.expect("Answers are kept in", timeout=60)
    finally:
        terminal.close()
    assert "ETA" in screen and "3/3" in screen and "accuracy (95% CI)" in screen
    assert "[1/3]" not in screen  # the plain lines are for logs, not terminals


async def test_failures_in_a_row_stop_the_run_and_retry_failed_continues(
        fake_groq: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = load_set("decimals")[:8]
    mode = graded(fake_groq, questions)
    fake_groq.fail(STRONG, 400, times=5, message="Your daily request limit is spent.")
    s = settings(fake_groq, tmp_path)
    out_json = tmp_path / "r.json"
    assert await evaluate("decimals", [SOLO], s, limit=8, json_out=out_json) == 1
    err = capsys.readouterr().err
    assert "Stopped after 5 failed answers in a row" in err and "daily request limit is spent" in err
    assert len(fake_groq.calls) == 5 and not out_json.exists()  # the other three were not marked failed

    assert await evaluate("decimals", [SOLO], s, limit=8, json_out=out_json, retry_failed=True) == 0
    (solo,) = json.loads(out_json.read_text(encoding="utf-8"))["configs"]
    assert solo["n"] == 8 and solo["failed"] == 0 and solo["correct"] == mode.right_count(STRONG, shown=False)
    capsys.readouterr()


async def test_calls_are_paced_within_the_models_limits_not_bounced(fake_groq: FakeGroq, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    questions = load_set("letters")[:6]
    mode = graded(fake_groq, questions)
    # Two lone answers a window fit (each counts its prompt plus max_tokens 2048), as on a free key.
    fake_groq.limit(STRONG, tpm=4500, window_s=0.5)
    out_json = tmp_path / "r.json"
    assert await evaluate("letters", [SOLO], settings(fake_groq, tmp_path), limit=6, json_out=out_json) == 0
    (solo,) = json.loads(out_json.read_text(encoding="utf-8"))["configs"]
    assert solo["n"] == 6 and solo["failed"] == 0 and solo["correct"] == mode.right_count(STRONG, shown=False)
    assert [c.status for c in fake_groq.calls] == [200] * 6  # the pacer waited; Groq never had to refuse
    capsys.readouterr()
