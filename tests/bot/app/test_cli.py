"""The real `moa-bot` process: what it says with nothing configured, and the console chat on a terminal."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.bot.app.helpers import Terminal, clean_env
from tests.fakes.groq_server import FakeGroq


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeGroq]:
    async with FakeGroq() as server:
        yield server


async def test_run_with_no_platform_off_a_terminal_says_what_to_set_and_exits_2(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=clean_env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    text = err.decode()
    for variable in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "GROQ_API_KEY"):
        assert variable in text
    assert "https://console.groq.com/keys" in text


async def test_ask_without_a_groq_key_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ask", "hi", cwd=tmp_path, env=clean_env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert out == b""
    assert "GROQ_API_KEY" in err.decode() and "console.groq.com/keys" in err.decode()


async def test_run_on_a_terminal_is_a_console_chat(fake: FakeGroq, tmp_path: Path) -> None:
    env = clean_env(GROQ_API_KEY="gsk_console_test", GROQ_BASE_URL=fake.base_url,
                     MOA_DB_PATH=str(tmp_path / "console.db"), COLUMNS="200", TERM="dumb")
    term = Terminal([sys.executable, "-m", "bot", "run"], tmp_path, env)
    try:
        await term.expect("moa-bot console")
        term.type("/moa layers 1")
        await term.expect("1 layer")
        term.type("is 9.11 or 9.9 larger?")
        await term.expect("openai/gpt-oss-120b says: is 9.11 or 9.9 larger? [saw 3 answers]")
        assert len(fake.calls) == 3 + 1  # the channel's one layer of three agents, then the aggregator
        term.type("/layers")
        await term.expect("qwen/qwen3.8-27b says: is 9.11 or 9.9 larger?")  # an intermediate answer
        term.type("/quit")
        assert await asyncio.to_thread(term.proc.wait, 15) == 0
        assert "gsk_console_test" not in term.screen
    finally:
        term.close()


async def test_a_malformed_provider_declaration_is_one_sentence_not_a_traceback(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "models", cwd=tmp_path,
        env=clean_env(GROQ_API_KEY="gsk_x", MOA_PROVIDERS="ollama at localhost"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "MOA_PROVIDERS" in err.decode() and "name=http://host:port/v1" in err.decode()
    assert "Traceback" not in err.decode()


async def test_ask_keeps_stdout_for_the_answer_even_when_a_call_is_retried(fake: FakeGroq, tmp_path: Path) -> None:
    fake.fail("qwen/qwen3.8-27b", 503)  # retried, and the retry is logged
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ask", "is 9.11 or 9.9 larger?", "--layers", "1", cwd=tmp_path,
        env=clean_env(GROQ_API_KEY="gsk_ask_test", GROQ_BASE_URL=fake.base_url, MOA_RETRY_BACKOFF="0.01"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert out.decode() == "openai/gpt-oss-120b says: is 9.11 or 9.9 larger? [saw 3 answers]\n"
    assert "retry 1" in err.decode()
    assert "gsk_ask_test" not in err.decode()


async def test_run_on_a_terminal_with_nothing_set_names_groq_and_the_local_route(tmp_path: Path) -> None:
    term = Terminal([sys.executable, "-m", "bot", "run"], tmp_path, clean_env(TERM="dumb"))
    try:
        await term.expect("docs/local.md")
        assert await asyncio.to_thread(term.proc.wait, 15) == 2
        for name in ("GROQ_API_KEY", "console.groq.com/keys", "MOA_PROVIDERS", "MOA_CONFIG", "llama.cpp"):
            assert name in term.screen
    finally:
        term.close()
