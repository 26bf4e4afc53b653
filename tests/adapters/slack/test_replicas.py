"""Two real `moa-bot run` replicas in Slack HTTP mode on one real PostgreSQL, as if behind one URL: any
replica may get any request or retry, and people see one bot."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio

from tests.adapters.slack.helpers import wait_for_port
from tests.bot.process import free_port
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeMessage, FakeSlack, SlackSender

SECRET = "replica-signing-secret"
CHANNEL = "C0GENERAL"
CALLS_PER_ANSWER = 3 * 3 + 1  # the default config: 3 layers of 3 agents, then the aggregator


@dataclass
class Replica:
    proc: asyncio.subprocess.Process
    send: SlackSender

    async def stop(self) -> None:
        await self.send.aclose()
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def start_replica(slack: FakeSlack, groq: FakeGroq, workdir: Path, database_url: str, number: int,
                        **extra: str) -> Replica:
    """`moa-bot run` on `database_url`, configured only by environment variables, listening on its own port."""
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(workdir),
        "SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": SECRET, "SLACK_PORT": str(port),
        "SLACK_HOST": "127.0.0.1", "SLACK_API_URL": slack.api_url, "SLACK_ADMIN_USERS": "U0ADMIN",
        "GROQ_BASE_URL": groq.base_url, "GROQ_API_KEY": "gsk_test",
        "MOA_DATABASE_URL": database_url, "MOA_DB_PATH": str(workdir / "unused.db"), **extra,
    }
    script = shutil.which("moa-bot")
    command = [script, "run"] if script else [sys.executable, "-m", "bot", "run"]
    proc = await asyncio.create_subprocess_exec(*command, env=env, cwd=workdir, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    await wait_for_port(port, proc, timeout=30)
    send = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
    # One Slack behind both: message timestamps and event ids must not repeat across the senders.
    send._counter = 100_000 * number
    return Replica(proc, send)


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest_asyncio.fixture
async def replicas(slack: FakeSlack, fake_groq: FakeGroq, tmp_path: Path,
                   postgres_url: str) -> AsyncIterator[tuple[Replica, Replica]]:
    fake_groq.latency = 0.05
    first, second = await asyncio.gather(start_replica(slack, fake_groq, tmp_path / "a", postgres_url, 1),
                                         start_replica(slack, fake_groq, tmp_path / "b", postgres_url, 2))
    try:
        yield first, second
    finally:
        await asyncio.gather(first.stop(), second.stop())


def _answered(slack: FakeSlack, ts: str) -> FakeMessage | None:
    messages = slack.thread(CHANNEL, ts)
    done = [m for m in messages if m.buttons and not m.streaming]
    return done[-1] if done else None


async def _answer(replica: Replica, slack: FakeSlack, question: str) -> FakeMessage:
    ts = await replica.send.mention(question)
    return await slack.wait_for(lambda s: _answered(s, ts), timeout=20)


async def test_events_and_their_retries_on_different_replicas_are_answered_once(
        replicas: tuple[Replica, Replica], slack: FakeSlack, fake_groq: FakeGroq) -> None:
    first, second = replicas
    sent = []
    for i in range(10):
        here, there = (first, second) if i % 2 == 0 else (second, first)
        event = here.send.mention_event(f"question {i}")
        event_id = f"EvReplica{i:04d}"
        # The event and Slack's retry of it arrive together, each at another replica.
        statuses = await asyncio.gather(here.send.event(event, event_id=event_id),
                                        there.send.event(event, event_id=event_id, retry=1))
        assert statuses == [200, 200]
        sent.append(str(event["ts"]))
    assert len(set(sent)) == 10

    await slack.wait_for(lambda s: all(_answered(s, ts) for ts in sent), timeout=30)

    for ts in sent:
        answers = [m for m in slack.thread(CHANNEL, ts) if m.buttons]
        assert len(answers) == 1, slack.thread(CHANNEL, ts)
    assert len(fake_groq.calls) == 10 * CALLS_PER_ANSWER  # no second run started anywhere


async def test_config_and_layer_reveals_cross_replicas(replicas: tuple[Replica, Replica], slack: FakeSlack,
                                                        fake_groq: FakeGroq) -> None:
    first, second = replicas
    assert await first.send.command("layers 2", user="U0ADMIN", response="layers") == 200
    await slack.wait_for(lambda s: any(r["_url"] == "layers" for r in s.responses))

    before = len(fake_groq.calls)
    answer = await _answer(second, slack, "which layers do you use?")
    assert len(fake_groq.calls) - before == 2 * 3 + 1  # the other replica's change: 2 layers of 3 agents

    # Answered by the second replica; its layers revealed through the first, by button and by 🔍.
    assert await first.send.press(answer, user="U0BOB") == 200
    await slack.wait_for(lambda s: bool(s.ephemerals), timeout=10)
    shown = "\n".join(b["text"]["text"] for e in slack.ephemerals for b in e.get("blocks", [])
                      if b.get("type") == "section")
    assert "which layers do you use?" in shown and "Layer 2 of 2" in shown

    assert await first.send.react(CHANNEL, answer.ts, "mag") == 200
    posted = await slack.wait_for(
        lambda s: [m for m in s.thread(CHANNEL, answer.thread_ts or "") if "Layer 1 of 2" in m.markdown],
        timeout=10)
    assert "which layers do you use?" in posted[0].markdown


async def test_a_replica_killed_mid_answer_has_its_thread_settled_by_the_survivor(
        slack: FakeSlack, fake_groq: FakeGroq, tmp_path: Path, postgres_url: str) -> None:
    # Leases short enough for a test (a heartbeat every 0.5 s, gone after 4 s of silence) yet long enough
    # that a live replica on a loaded machine never looks gone.
    lease = {"MOA_LEASE_HEARTBEAT": "0.5", "MOA_LEASE_EXPIRY": "4"}
    doomed, survivor = await asyncio.gather(
        start_replica(slack, fake_groq, tmp_path / "a", postgres_url, 1, **lease),
        start_replica(slack, fake_groq, tmp_path / "b", postgres_url, 2, **lease))
    try:
        fake_groq.latency = 30.0  # the answer is still being written when its replica dies
        ts = await doomed.send.mention("finish me elsewhere")
        await fake_groq.wait_for(lambda f: len(f.calls) >= 3, timeout=15)
        [status] = await slack.wait_for(lambda s: [
            m for m in s.thread(CHANNEL, ts) if any(t["status"] == "in_progress" for t in m.tasks.values())],
            timeout=15)
        doomed.proc.kill()  # kill -9: no goodbye, its lease just stops being renewed
        await doomed.proc.wait()
        fake_groq.latency = 0.0

        def answered(s: FakeSlack) -> bool:
            return bool(s.messages[status.ts].buttons) and not s.messages[status.ts].streaming

        await slack.wait_for(answered, timeout=30)
        replies = slack.thread(CHANNEL, ts)
        assert [m.ts for m in replies] == [status.ts]  # the frozen status became the answer, nothing beside it
        assert "says: finish me elsewhere" in replies[0].markdown
        assert not any(t["status"] == "in_progress" for t in replies[0].tasks.values())
        assert survivor.proc.returncode is None
    finally:
        await asyncio.gather(doomed.stop(), survivor.stop())


async def test_a_replica_whose_database_is_unreachable_says_so_and_exits_2(
        slack: FakeSlack, fake_groq: FakeGroq, tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
        "SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": SECRET, "SLACK_PORT": str(port),
        "SLACK_HOST": "127.0.0.1", "SLACK_API_URL": slack.api_url, "GROQ_BASE_URL": fake_groq.base_url,
        "GROQ_API_KEY": "gsk_test", "MOA_DATABASE_URL": f"postgresql://moa:hunter2@127.0.0.1:{free_port()}/moa",
    }
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                                                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)

    text = err.decode()
    assert proc.returncode == 2, text[-2000:]
    assert "Cannot connect to the PostgreSQL database postgresql://moa:***@127.0.0.1" in text
    assert "Traceback" not in text and "hunter2" not in text
