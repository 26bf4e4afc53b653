"""`moa-bot run` checks ports and MOA_CONFIG's models before it starts: a sentence and exit 2, no call spent."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.bot.process import base_env, run_bot, start_bot, stop_bot
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack


async def test_a_slack_port_in_use_is_a_sentence_not_a_traceback(fake_groq: FakeGroq, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeSlack() as slack:
            env = base_env(fake_groq, tmp_path, SLACK_BOT_TOKEN=slack.token, SLACK_SIGNING_SECRET="s3cret-value",
                           SLACK_API_URL=slack.api_url, SLACK_HOST="127.0.0.1", SLACK_PORT=str(port))
            done = await run_bot(env, "run", cwd=tmp_path)

    assert done.code == 2
    assert "Traceback" not in done.err
    assert done.err.strip() == (f"SLACK_PORT {port} is already in use on 127.0.0.1 (another moa-bot or another "
                                "server): stop that process or set SLACK_PORT to a free port.")


async def test_a_retired_model_in_moa_config_stops_run_before_any_call(fake_groq: FakeGroq, tmp_path: Path) -> None:
    fake_groq.models.append("llama-3.3-70b-versatile")
    fake_groq.decommissioned.add("llama-3.3-70b-versatile")
    config = tmp_path / "moa.json"
    config.write_text(json.dumps({"main_model": "llama-3.3-70b-versatile", "cycles": 2, "layer_agent_config": {
        "a": {"system_prompt": "{helper_response}", "model_name": "openai/gpt-oss-20b"}}}))
    async with FakeSlack() as slack:
        env = base_env(fake_groq, tmp_path, SLACK_BOT_TOKEN=slack.token, SLACK_APP_TOKEN=slack.app_token,
                       SLACK_API_URL=slack.api_url, MOA_CONFIG=str(config))
        done = await run_bot(env, "run", cwd=tmp_path)

    assert done.code == 2
    assert done.err.startswith(
        f"MOA_CONFIG ({config}) uses a model not served now: llama-3.3-70b-versatile (the aggregator).")
    assert "Live models: openai/gpt-oss-120b" in done.err
    assert not fake_groq.calls  # no chat completion was spent


async def test_an_unreachable_groq_at_start_is_a_warning_naming_the_url_and_the_bot_still_runs(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    async with FakeSlack() as slack:
        env = base_env(fake_groq, tmp_path, GROQ_BASE_URL=url, SLACK_BOT_TOKEN=slack.token,
                       SLACK_APP_TOKEN=slack.app_token, SLACK_API_URL=slack.api_url)
        proc = await start_bot(env, "run", cwd=tmp_path)
        try:
            await slack.wait_for(lambda s: s.socket_connected, timeout=15)
        finally:
            done = await stop_bot(proc)

    assert done.code == 0, done.err
    [warning] = [line for line in done.err.splitlines() if "WARNING" in line]
    assert f"Could not connect to Groq at {url} (connection refused): check GROQ_BASE_URL" in warning


async def test_doctor_names_a_busy_status_port(fake_groq: FakeGroq, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = base_env(fake_groq, tmp_path, COLUMNS="300", MOA_STATUS_PORT=str(port), SLACK_HOST="127.0.0.1")
        done = await run_bot(env, "doctor", cwd=tmp_path)

    assert done.code == 1
    assert f"✗ MOA_STATUS_PORT {port} is already in use on 127.0.0.1" in done.out
