"""Socket Mode (SLACK_APP_TOKEN set): the same bot over a WebSocket, no public URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.slack.server import run_slack
from bot.conversation.service import ConversationService
from bot.observe.health import Health
from bot.settings import Settings
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender


def _socket_settings(fake_groq: FakeGroq, slack: FakeSlack, tmp_path: Path) -> Settings:
    return Settings.load(env={
        "GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": fake_groq.base_url,
        "MOA_DB_PATH": str(tmp_path / "moa.db"), "SLACK_BOT_TOKEN": slack.token,
        "SLACK_APP_TOKEN": slack.app_token, "SLACK_API_URL": slack.api_url})


async def test_socket_mode_answers_mentions_and_commands_and_stops_cleanly(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        settings = _socket_settings(fake_groq, slack, tmp_path)
        service = await ConversationService.create(settings)
        stop = asyncio.Event()
        adapter = asyncio.create_task(run_slack(settings, service, stop))
        events = SlackSender(slack, "", "")
        try:
            await slack.wait_for(lambda s: s.socket_connected)
            mention = events.mention_event("hello over a socket")
            envelope = await slack.push("events_api", events.event_body(mention))

            def answered(s: FakeSlack) -> bool:
                msgs = s.thread("C0GENERAL", mention["ts"])
                return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming

            await slack.wait_for(answered)
            assert envelope in {a.get("envelope_id") for a in slack.socket_acks}
            assert "says: hello over a socket" in slack.thread_answer("C0GENERAL", mention["ts"])

            await slack.push("slash_commands", {
                "team_id": slack.team_id, "channel_id": "C0GENERAL", "user_id": "U0ALICE", "command": "/moa",
                "text": "show", "response_url": slack.response_url("socket-cmd"), "trigger_id": "1"})
            await slack.wait_for(lambda s: any(r["_url"] == "socket-cmd" for r in s.responses))
            assert "Layers: 3" in slack.responses[-1]["text"]
        finally:
            stop.set()
            await asyncio.wait_for(adapter, timeout=5)
            await service.aclose()
        assert not slack.socket_connected


async def test_health_reports_the_socket_mode_connection(fake_groq: FakeGroq, tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        settings = _socket_settings(fake_groq, slack, tmp_path)
        service = await ConversationService.create(settings)
        health = Health(service.db.probe)
        stop = asyncio.Event()
        adapter = asyncio.create_task(run_slack(settings, service, stop, health))
        try:
            await slack.wait_for(lambda s: s.socket_connected)
            healthy, body = await health.report()
            assert healthy and body["platforms"] == {"slack": "up"}
        finally:
            stop.set()
            await asyncio.wait_for(adapter, timeout=5)
        healthy, body = await health.report()
        await service.aclose()
    assert not healthy
    assert body["reason"] == "no platform connection is up"
    assert body["platforms"] == {"slack": "Socket Mode client closed"}
