"""/healthz and /metrics: on SLACK_PORT in Slack HTTP mode, on MOA_STATUS_PORT otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from bot.observe.health import Health, start_status_server
from tests.bot.process import base_env, free_port, get_when, start_bot, stop_bot
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender

SECRET = "status-signing-secret"


def _answered(slack: FakeSlack, ts: str) -> bool:
    msgs = slack.thread("C0GENERAL", ts)
    return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming


async def test_slack_http_mode_serves_health_and_counts_an_answer_in_metrics_and_the_log(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    async with FakeSlack() as slack:
        env = base_env(fake_groq, tmp_path, SLACK_BOT_TOKEN=slack.token, SLACK_SIGNING_SECRET=SECRET,
                       SLACK_API_URL=slack.api_url, SLACK_HOST="127.0.0.1", SLACK_PORT=str(port))
        proc = await start_bot(env, "run", cwd=tmp_path)
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        try:
            status, body = await get_when(proc, f"http://127.0.0.1:{port}/healthz")
            assert status == 200
            assert json.loads(body) == {"status": "ok", "storage": "ok", "platforms": {"slack": "up"}}

            ts = await sender.mention("count me")
            await slack.wait_for(lambda s: _answered(s, ts), timeout=10)
            _, metrics = await get_when(proc, f"http://127.0.0.1:{port}/metrics",
                                        lambda _, body: "moa_answer_seconds_count 1.0" in body)
        finally:
            await sender.aclose()
            done = await stop_bot(proc)

    assert 'moa_answers_total{outcome="answered",platform="slack"} 1.0' in metrics
    assert "moa_answer_seconds_count 1.0" in metrics
    assert 'moa_model_calls_total{model="openai/gpt-oss-20b",status="ok"}' in metrics
    assert 'moa_tokens_total{kind="prompt",model="openai/gpt-oss-120b"}' in metrics
    assert "moa_queue_depth 0.0" in metrics
    [line] = [line for line in done.err.splitlines() if "answer platform=" in line]
    assert "platform=slack channel=C0GENERAL" in line and "calls=10" in line and "outcome=answered" in line
    assert "cost=$" in line


async def test_a_discord_only_bot_serves_health_on_moa_status_port(fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    async with FakeDiscord() as discord:
        env = base_env(fake_groq, tmp_path, DISCORD_TOKEN=discord.token, DISCORD_API_BASE=discord.base_url,
                       DISCORD_GATEWAY_URL=discord.gateway_url, MOA_STATUS_PORT=str(port), SLACK_HOST="127.0.0.1")
        proc = await start_bot(env, "run", cwd=tmp_path)
        try:
            await discord.wait_for(lambda f: f.identifies and f.connected, timeout=15)
            # READY reaches the bot just after the fake sends it
            _, body = await get_when(proc, f"http://127.0.0.1:{port}/healthz", lambda status, _: status == 200)
            assert json.loads(body)["platforms"] == {"discord": "up"}
        finally:
            done = await stop_bot(proc)
    assert done.code == 0, done.err


async def test_health_is_503_with_the_reason_when_storage_fails_or_no_platform_is_up() -> None:
    async def broken_storage() -> None:
        raise OSError("disk I/O error")

    health = Health(broken_storage)
    health.watch("discord", lambda: "connecting to the gateway")
    port = free_port()
    runner = await start_status_server(health, "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
            status, body = response.status, await response.json()
    finally:
        await runner.cleanup()

    assert status == 503
    assert body["reason"] == "storage is failing: disk I/O error; no platform connection is up"
    assert body["platforms"] == {"discord": "connecting to the gateway"}
