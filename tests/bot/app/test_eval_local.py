"""`moa-bot eval` on a self-hosted server as a newcomer runs it: one OpenAI-compatible provider that answers
one call at a time and sends no rate-limit headers. The real groq SDK against the fake in local mode."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.app.eval_command import evaluate
from bot.settings import Settings
from moa.eval.sets import load_set
from tests.bot.app.helpers import two_by_two as local_config
from tests.fakes.groq_server import FakeCall, FakeGroq, GradedQuestions

SOLO = "single:local:tiny"
FINAL_BUDGET = 128  # the 2×2 config's aggregator
AGENT_BUDGET = 96


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeGroq]:
    async with FakeGroq.local(["tiny"], latency=0.15, usage_mode="never") as fake:
        fake.reply = GradedQuestions({q.question: q.answer for q in load_set("decimals")}).reply
        yield fake


def two_by_two(tmp_path: Path) -> str:
    return str(local_config(tmp_path, final_budget=FINAL_BUDGET, agent_budget=AGENT_BUDGET))


def settings(server: FakeGroq, tmp_path: Path) -> Settings:
    return Settings.load(env={"MOA_PROVIDERS": f"local={server.openai_base_url}",
                              "XDG_CACHE_HOME": str(tmp_path / "cache")}, dotenv=None)


def lone(call: FakeCall) -> bool:
    """The baseline's call: no agent instruction, no earlier answers shown."""
    return "You are agent" not in call.system and call.seen_answers == 0


async def test_the_baseline_gets_the_compared_configs_final_answer_budget(
        server: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = two_by_two(tmp_path)
    assert await evaluate("decimals", [config, SOLO], settings(server, tmp_path), limit=2) == 0
    assert [c.max_tokens for c in server.calls if lone(c)] == [FINAL_BUDGET] * 2  # not 2,048
    err = capsys.readouterr().err
    assert f"{SOLO} may write up to {FINAL_BUDGET} tokens (the final-answer max_tokens of {config}" in err

    calls = len(server.calls)
    assert await evaluate("decimals", [config, SOLO], settings(server, tmp_path), limit=2,
                          single_max_tokens=300) == 0
    assert [c.max_tokens for c in server.calls[calls:] if lone(c)] == [300] * 2  # a new budget: asked again
    assert "as --single-max-tokens sets" in capsys.readouterr().err
    assert await evaluate("decimals", [SOLO], settings(server, tmp_path), single_max_tokens=0) == 2
    assert "--single-max-tokens must be 1 to 32,768, not 0" in capsys.readouterr().err


async def test_tokens_the_server_did_not_count_are_marked_as_estimates(
        server: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "r.json"
    assert await evaluate("decimals", [two_by_two(tmp_path), SOLO], settings(server, tmp_path), limit=2,
                          json_out=out_json) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("│")]  # one per config
    assert len(rows) == 2 and all(re.search(r"≈[\d,]+ / ≈[\d,]+", row) for row in rows), out
    assert "≈ tokens counted from the text" in out
    assert all(c["tokens"]["estimated"] for c in json.loads(out_json.read_text())["configs"])


async def test_tokens_the_server_counted_are_not_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeGroq.local(["tiny"], latency=0.05) as counting:  # streams usage when asked
        assert await evaluate("decimals", [two_by_two(tmp_path), SOLO], settings(counting, tmp_path), limit=1) == 0
    out = capsys.readouterr().out
    assert "≈" not in out and SOLO in out


async def test_plan_estimates_time_only_from_timed_answers_on_a_server_without_limits(
        server: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = settings(server, tmp_path)
    configs = [two_by_two(tmp_path), SOLO]
    assert await evaluate("decimals", configs, s, limit=3, plan_only=True) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "learnt from the first answers" not in out  # this server sends no headers: nothing is learnt
    assert "none declared" in out and "local:tiny has no declared rate limit" in out
    assert "how long it takes cannot be told before" in out and "--limit 1" in out
    assert not server.calls

    assert await evaluate("decimals", configs, s, limit=1) == 0  # one answer of each config, timed and kept
    capsys.readouterr()
    asked = len(server.calls)
    assert await evaluate("decimals", configs, s, limit=3, plan_only=True) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "4 answers to go" in out and "at the pace of the answers timed so far it takes about" in out
    assert "cannot be told" not in out and len(server.calls) == asked


async def test_progress_lines_show_the_agents_queue_apart_and_an_eta_once_it_can(
        server: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await evaluate("decimals", [two_by_two(tmp_path), SOLO], settings(server, tmp_path), limit=3) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert len(lines) == 6
    moa_lines = [line for line in lines if "2x2.json ·" in line]
    solo_lines = [line for line in lines if f"] {SOLO} ·" in line]
    assert len(moa_lines) == len(solo_lines) == 3
    # Two agents sent together to a server that answers one at a time: the second waits for the first.
    assert all(re.search(r"\(agents: [\d.]+ s on the server \+ [\d.]+ s queued\)", line) for line in moa_lines)
    assert all("agents:" not in line for line in solo_lines)
    assert lines[0].endswith(f"ETA after the first answer of {SOLO}")  # nothing to go on for the baseline yet
    assert all(re.search(r"· ETA (\d+ (s|min)|—)$", line) for line in lines[1:]), lines
