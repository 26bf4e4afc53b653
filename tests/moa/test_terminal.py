"""`moa-bot ask` and `moa-bot models` (bot/app/terminal.py) against the fake Groq."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.app.terminal import ask, models
from bot.settings import Settings
from tests.fakes.groq_server import REASONING_MARK, FakeGroq
from tests.moa.helpers import SEED_EN

ROOT = Path(__file__).resolve().parents[2]
STRONG = "openai/gpt-oss-120b"


def settings(fake: FakeGroq, **env: str) -> Settings:
    base = {"GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake.base_url}
    return Settings.load(env={**base, **env}, dotenv=None)


async def test_ask_prints_the_answer_on_stdout_and_progress_on_stderr(
        fake_groq: FakeGroq, capsys: pytest.CaptureFixture[str]) -> None:
    code = await ask("What is MoA?", None, None, False, settings(fake_groq))
    out, err = capsys.readouterr()
    assert code == 0
    assert out == f"{STRONG} says: What is MoA? [saw 3 answers]\n"
    assert "Layer 1/3" in err and "Layer 3/3" in err and f"Aggregating with {STRONG}" in err
    assert err.count("✓") == 9 and "openai/gpt-oss-20b" in err and "tokens" in err
    assert "cost $" in err and "unknown" not in err  # every default model has a price
    assert REASONING_MARK not in out + err


async def test_show_layers_prints_every_intermediate_answer(
        fake_groq: FakeGroq, capsys: pytest.CaptureFixture[str]) -> None:
    code = await ask("Why?", None, 2, True, settings(fake_groq))
    out, err = capsys.readouterr()
    assert code == 0
    assert out.strip() == f"{STRONG} says: Why? [saw 3 answers]"  # stdout stays just the answer
    assert err.count("openai/gpt-oss-20b says: Why? [saw 0 answers]") == 2
    assert err.count("qwen/qwen3.8-27b says: Why? [saw 3 answers]") == 1
    assert "Layer 2 · layer_agent_3" in err


async def test_layers_option_overrides_the_config(fake_groq: FakeGroq,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert await ask("q", None, 1, False, settings(fake_groq)) == 0
    assert len(fake_groq.calls) == 4
    assert await ask("q", None, 0, False, settings(fake_groq)) == 2
    assert "--layers must be 1 or more" in capsys.readouterr().err
    assert await ask("q", None, 9, False, settings(fake_groq)) == 2
    assert "--layers 9 is more than the 4 layers allowed" in capsys.readouterr().err


async def test_config_file(fake_groq: FakeGroq, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_groq.models += ["llama-3.1-8b-instant"]
    seed = tmp_path / "seed.json"
    seed.write_text(SEED_EN, encoding="utf-8")
    code = await ask("9.11 or 9.9?", seed, 1, False, settings(fake_groq))
    out, err = capsys.readouterr()
    assert code == 2 and out == ""  # a model not served now is found before any call is spent
    assert f"--config {seed} uses a model not served now: gemma2-9b-it (layer_agent_2)." in err
    assert not fake_groq.calls

    fake_groq.models += ["gemma2-9b-it"]
    code = await ask("9.11 or 9.9?", seed, 1, False, settings(fake_groq))
    out, err = capsys.readouterr()
    assert code == 0 and out.strip().endswith("[saw 3 answers]")

    bad = tmp_path / "bad.json"
    bad.write_text('{"layer_agent_1": {"system_prompt": "no slot", "model_name": "m"}}', encoding="utf-8")
    assert await ask("q", bad, None, False, settings(fake_groq)) == 2
    assert "must contain {helper_response}" in capsys.readouterr().err
    assert await ask("q", tmp_path / "missing.json", None, False, settings(fake_groq)) == 2
    assert "--config: Cannot read the config file" in capsys.readouterr().err


async def test_missing_groq_key_is_one_sentence_and_exit_2(fake_groq: FakeGroq,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = await ask("q", None, None, False, Settings.load(env={"GROQ_BASE_URL": fake_groq.base_url}, dotenv=None))
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "https://console.groq.com/keys" in err and err.strip().count("\n") == 0
    assert fake_groq.calls == []


async def test_a_failed_run_exits_1_with_the_reason(fake_groq: FakeGroq,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    fake_groq.decommissioned.add(STRONG)
    code = await ask("q", None, 1, False, settings(fake_groq))
    out, err = capsys.readouterr()
    assert code == 2 and out == ""  # the retired aggregator is found before the proposers run
    assert f"uses a model not served now: {STRONG} (the aggregator)" in err and "openai/gpt-oss-20b" in err
    assert not fake_groq.calls

    fake_groq.decommissioned.clear()
    # Failing mid-run, with its fallback failing too, looks the same to the person: a sentence, exit 1.
    fake_groq.fail(STRONG, 500, times=10)
    fake_groq.fail("qwen/qwen3.8-27b", 500, times=10)
    code = await ask("q", None, 1, False, settings(fake_groq))
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and STRONG in err


async def test_models_lists_live_models_with_prices(fake_groq: FakeGroq,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert await models(settings(fake_groq)) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(fake_groq.models)
    assert all("per M tokens" in line for line in lines)  # every live default model has a price
    assert "prices as of" in err
    assert await models(Settings.load(env={}, dotenv=None)) == 2
    assert "https://console.groq.com/keys" in capsys.readouterr().err


async def _cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.app.cli", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GROQ_", "MOA_", "DISCORD_", "SLACK_")) and not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **extra}


async def test_the_real_command(fake_groq: FakeGroq, tmp_path: Path) -> None:
    code, out, err = await _cli("ask", "Hello from a shell", "--layers", "1", cwd=tmp_path,
                                env=_env(GROQ_API_KEY="gsk_test", GROQ_BASE_URL=fake_groq.base_url))
    assert code == 0, err
    assert out == f"{STRONG} says: Hello from a shell [saw 3 answers]\n"
    assert "Layer 1/1" in err
    code, out, err = await _cli("ask", "q", cwd=tmp_path, env=_env())
    assert code == 2 and out == "" and "https://console.groq.com/keys" in err


async def test_show_layers_wraps_a_long_answer_instead_of_cropping_it(
        fake_groq: FakeGroq, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    words = [f"word{i}" for i in range(40)]  # one line of ~280 characters in a 60-column terminal
    fake_groq.reply = lambda call: " ".join(words)
    assert await ask("Why?", None, 1, True, settings(fake_groq)) == 0
    err = capsys.readouterr().err
    assert all(word in err for word in words)  # the end of the line is there, wrapped
