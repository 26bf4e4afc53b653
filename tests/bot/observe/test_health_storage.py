"""/healthz tells the truth about storage, through the real `moa-bot run`: 503 naming storage while the
database is gone (a stopped PostgreSQL server, a SQLite file moved away), 200 again once it is back,
without a restart; a mention meanwhile is still answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.bot.process import base_env, free_port, get_when, start_bot, stop_bot
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender
from tests.postgres import PostgresServer

SECRET = "health-signing-secret"
FAILING_WITHIN_S = 30
BACK_WITHIN_S = 60


@pytest_asyncio.fixture
async def own_postgres() -> AsyncIterator[PostgresServer]:
    """A PostgreSQL server of this test's own: it gets stopped and started (the shared one must not)."""
    server = await asyncio.to_thread(PostgresServer.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def _storage_failing(status: int, body: str) -> bool:
    return status == 503 and "storage" in json.loads(body).get("reason", "")


def _healthy(status: int, body: str) -> bool:
    return status == 200


def _answered(slack: FakeSlack, ts: str) -> bool:
    msgs = slack.thread("C0GENERAL", ts)
    return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming


def _slack_env(slack: FakeSlack, groq: FakeGroq, tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    return base_env(groq, tmp_path, SLACK_BOT_TOKEN=slack.token, SLACK_SIGNING_SECRET=SECRET,
                    SLACK_API_URL=slack.api_url, SLACK_HOST="127.0.0.1", SLACK_PORT=str(port), **extra)


async def test_health_fails_while_postgresql_is_stopped_and_recovers_when_it_is_back(
        fake_groq: FakeGroq, tmp_path: Path, own_postgres: PostgresServer) -> None:
    port = free_port()
    healthz = f"http://127.0.0.1:{port}/healthz"
    async with FakeSlack() as slack:
        proc = await start_bot(_slack_env(slack, fake_groq, tmp_path, port, MOA_DATABASE_URL=own_postgres.url),
                               "run", cwd=tmp_path)
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        try:
            await get_when(proc, healthz, _healthy, timeout=30)

            await asyncio.to_thread(own_postgres.halt)
            _, failing = await get_when(proc, healthz, _storage_failing, timeout=FAILING_WITHIN_S)
            assert json.loads(failing)["storage"].startswith("failing: the database server cannot be reached")

            ts = await sender.mention("are you there without a database?")
            # No layer buttons: nothing could be stored to show them from. The answer says so.
            [answer] = await slack.wait_for(lambda s: [
                m for m in s.thread("C0GENERAL", ts) if not m.streaming and "says:" in m.markdown], timeout=30)
            assert "says: are you there without a database?" in answer.markdown
            assert ("Storage failed (the database server cannot be reached): the layers of this answer could "
                    "not be saved") in json.dumps(answer.blocks)

            await asyncio.to_thread(own_postgres.resume)
            _, back = await get_when(proc, healthz, _healthy, timeout=BACK_WITHIN_S)
            assert json.loads(back)["storage"] == "ok"
        finally:
            await sender.aclose()
            done = await stop_bot(proc)
    assert done.code == 0, done.err[-3000:]


async def test_health_fails_while_the_sqlite_file_is_moved_away_and_recovers_when_it_is_back(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    healthz = f"http://127.0.0.1:{port}/healthz"
    db = tmp_path / "moa.db"
    aside = tmp_path / "moved-away.db"
    async with FakeSlack() as slack:
        proc = await start_bot(_slack_env(slack, fake_groq, tmp_path, port), "run", cwd=tmp_path)
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        try:
            await get_when(proc, healthz, _healthy)

            db.rename(aside)  # the open handle still answers, but nothing reaches the file a restart opens
            _, failing = await get_when(proc, healthz, _storage_failing, timeout=FAILING_WITHIN_S)
            assert "the database file was moved, removed or replaced" in json.loads(failing)["reason"]

            ts = await sender.mention("still here?")
            await slack.wait_for(lambda s: _answered(s, ts), timeout=30)
            assert "says: still here?" in slack.thread_answer("C0GENERAL", ts)

            aside.rename(db)
            _, back = await get_when(proc, healthz, _healthy, timeout=BACK_WITHIN_S)
            assert json.loads(back)["storage"] == "ok"
        finally:
            await sender.aclose()
            done = await stop_bot(proc)
    assert done.code == 0, done.err[-3000:]
