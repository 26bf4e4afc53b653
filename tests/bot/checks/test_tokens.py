"""A wrong platform token stops `moa-bot run` with one sentence (exit 2); doctor says the same."""

from __future__ import annotations

from pathlib import Path

from tests.bot.process import base_env, run_bot
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack


def _one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return lines[0]


async def test_a_wrong_slack_bot_token_stops_run_with_a_sentence(fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        env = base_env(fake_groq, tmp_path, SLACK_BOT_TOKEN="xoxb-wrong-token-123", SLACK_API_URL=slack.api_url,
                       SLACK_APP_TOKEN=slack.app_token)
        done = await run_bot(env, "run", cwd=tmp_path)

    assert done.code == 2
    sentence = _one_sentence(done.err)
    assert "SLACK_BOT_TOKEN" in sentence and "invalid_auth" in sentence and "OAuth & Permissions" in sentence
    assert "xoxb-wrong-token-123" not in done.err
    assert [c.method for c in slack.calls if c.token == "xoxb-wrong-token-123"] == ["auth.test"]


async def test_a_wrong_slack_app_token_stops_run_instead_of_retrying_forever(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        env = base_env(fake_groq, tmp_path, SLACK_BOT_TOKEN=slack.token, SLACK_APP_TOKEN="xapp-wrong-1",
                       SLACK_API_URL=slack.api_url)
        done = await run_bot(env, "run", cwd=tmp_path)

    assert done.code == 2
    sentence = _one_sentence(done.err)
    assert sentence.startswith("SLACK_APP_TOKEN was refused by Slack (invalid_auth)")
    assert "App-Level Tokens" in sentence
    assert not slack.socket_connected


async def test_a_wrong_discord_token_stops_run_with_a_sentence_not_a_traceback(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with FakeDiscord() as discord:
        env = base_env(fake_groq, tmp_path, DISCORD_TOKEN="not-the-token", DISCORD_API_BASE=discord.base_url,
                       DISCORD_GATEWAY_URL=discord.gateway_url)
        done = await run_bot(env, "run", cwd=tmp_path)

    assert done.code == 2
    sentence = _one_sentence(done.err)
    assert "DISCORD_TOKEN was refused by Discord (401" in sentence and "Reset Token" in sentence
    assert not discord.identifies


async def test_swapped_slack_tokens_are_named_before_anything_is_sent(fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        env = base_env(fake_groq, tmp_path, SLACK_BOT_TOKEN=slack.app_token, SLACK_APP_TOKEN=slack.token,
                       SLACK_API_URL=slack.api_url)
        run = await run_bot(env, "run", cwd=tmp_path)
        doctor = await run_bot(dict(env, COLUMNS="300"), "doctor", cwd=tmp_path)

    assert run.code == 2
    assert "SLACK_BOT_TOKEN holds an app-level token (xapp-…) — SLACK_BOT_TOKEN and SLACK_APP_TOKEN look swapped" \
        in _one_sentence(run.err)
    assert not slack.calls
    assert doctor.code == 1
    assert "✗ SLACK_BOT_TOKEN holds an app-level token" in doctor.out


async def test_doctor_checks_each_token_with_its_platform(fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with FakeSlack() as slack, FakeDiscord() as discord:
        env = base_env(fake_groq, tmp_path, COLUMNS="300", SLACK_BOT_TOKEN=slack.token,
                       SLACK_APP_TOKEN="xapp-revoked", SLACK_API_URL=slack.api_url, DISCORD_TOKEN=discord.token,
                       DISCORD_API_BASE=discord.base_url)
        done = await run_bot(env, "doctor", cwd=tmp_path)

    assert done.code == 1
    assert "✓ SLACK_BOT_TOKEN works: @moa in Fake" in done.out
    assert "✗ SLACK_APP_TOKEN was refused by Slack (invalid_auth)" in done.out
    assert "✓ DISCORD_TOKEN works: logged in as" in done.out
    # each adapter's own section, in order: Discord's, then Slack's with its mode and manifest
    assert done.out.index("\nDiscord\n") < done.out.index("\nSlack\n") < done.out.index("\nStorage\n")
    assert "✓ Socket Mode (SLACK_APP_TOKEN)" in done.out
    assert "adapters/slack/manifest.yaml" in done.out
