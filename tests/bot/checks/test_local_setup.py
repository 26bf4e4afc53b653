"""A provider-only setup (a self-hosted server, no GROQ_API_KEY) through the one set of start-up checks:
`doctor`, `ask`, `models` and the console on a terminal. The real process against the fake server."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

from tests.bot.app.helpers import Terminal, clean_env
from tests.bot.process import run_bot
from tests.fakes.groq_server import FakeGroq


def local_env(server_url: str, tmp_path: Path, config: dict[str, object] | None = None, **extra: str) -> dict[str, str]:
    """A newcomer's setup: one provider, MOA_CONFIG naming its models, nothing about Groq."""
    path = tmp_path / "moa.json"
    agents = {"a": {"model_name": "local:tiny", "system_prompt": "{helper_response}"},
              "b": {"model_name": "local:tiny", "system_prompt": "{helper_response}"}}
    path.write_text(json.dumps(config or {"main_model": "local:tiny", "cycles": 1, "layer_agent_config": agents}))
    return clean_env(MOA_PROVIDERS=f"local={server_url}", MOA_CONFIG=str(path), HOME=str(tmp_path),
                     MOA_DB_PATH=str(tmp_path / "moa.db"), COLUMNS="200", TERM="dumb", **extra)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


async def test_doctor_passes_a_working_provider_only_setup(tmp_path: Path) -> None:
    async with FakeGroq.local(["tiny"]) as server:
        done = await run_bot(local_env(server.openai_base_url, tmp_path), "doctor", cwd=tmp_path)
    assert done.code == 0, done.out
    assert "GROQ_API_KEY not set — not needed" in done.out
    assert "providers reachable: 1 live model\n" in done.out  # not "1 live models"
    assert "models alive: local:tiny" in done.out
    assert "✗" not in done.out


async def test_a_bad_moa_config_is_one_doctor_line_and_the_checklist_goes_on(tmp_path: Path) -> None:
    async with FakeGroq.local(["tiny"]) as server:
        env = local_env(server.openai_base_url, tmp_path)
        broken = tmp_path / "broken.json"
        broken.write_text('{"main_model": "local:tiny", "cycles": ')
        env["MOA_CONFIG"] = str(broken)
        done = await run_bot(env, "doctor", cwd=tmp_path)
        models = await run_bot(env, "models", cwd=tmp_path)
    assert done.code == 1
    assert done.out.count("✗") == 1 and "MOA_CONFIG" in done.out
    assert "Storage" in done.out and "providers reachable: 1 live model" in done.out
    assert models.code == 0 and models.out.startswith("local:tiny")
    assert "MOA_CONFIG" in models.err and "Groq prices" not in models.err  # no Groq model listed


async def test_a_typo_in_every_agents_model_is_reported_for_each(tmp_path: Path) -> None:
    agents = {"a": {"model_name": "local:tiyn", "system_prompt": "{helper_response}"},
              "b": {"model_name": "local:tiyn", "system_prompt": "{helper_response}"}}
    async with FakeGroq.local(["tiny"]) as server:
        env = local_env(server.openai_base_url, tmp_path,
                        {"main_model": "local:tiyn", "cycles": 1, "layer_agent_config": agents})
        done = await run_bot(env, "ask", "hi", cwd=tmp_path)
        assert not server.calls  # found before any call was spent
    assert done.code == 2 and done.out == ""
    assert "local:tiyn (the aggregator, a, b)" in done.err
    assert "Live models: local:tiny" in done.err


async def test_the_console_refuses_a_mistyped_moa_config_model_at_start(tmp_path: Path) -> None:
    agents = {"a": {"model_name": "local:tiny", "system_prompt": "{helper_response}"}}
    async with FakeGroq.local(["tiny"]) as server:
        env = local_env(server.openai_base_url, tmp_path,
                        {"main_model": "local:tinny", "cycles": 1, "layer_agent_config": agents})
        term = Terminal([sys.executable, "-m", "bot", "run"], tmp_path, env)
        try:
            await term.expect("local:tinny (the aggregator)")
            assert await asyncio.to_thread(term.proc.wait, 15) == 2
            assert "moa-bot console" not in term.screen
        finally:
            term.close()


async def test_the_console_refuses_an_unreachable_provider_at_start(tmp_path: Path) -> None:
    url = closed_port_url()
    term = Terminal([sys.executable, "-m", "bot", "run"], tmp_path, local_env(url, tmp_path))
    try:
        await term.expect("Could not connect")
        assert await asyncio.to_thread(term.proc.wait, 15) == 1  # a server down is a failure, as in `ask`
        assert "moa-bot console" not in term.screen
    finally:
        term.close()


async def test_the_console_starts_on_a_working_provider_only_setup(tmp_path: Path) -> None:
    async with FakeGroq.local(["tiny"]) as server:
        term = Terminal([sys.executable, "-m", "bot", "run"], tmp_path, local_env(server.openai_base_url, tmp_path))
        try:
            await term.expect("moa-bot console")
            term.type("hello there")
            await term.expect("tiny says: hello there [saw 2 answers]")
            term.type("/quit")
            assert await asyncio.to_thread(term.proc.wait, 15) == 0
        finally:
            term.close()
