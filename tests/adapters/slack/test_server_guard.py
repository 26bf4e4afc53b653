"""The Slack HTTP endpoint protects itself: idle and half-open connections time out, open connections are
capped, and thousands of idle sockets neither stop answers nor flood the log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
from pathlib import Path

from adapters.slack.app import build_slack_app
from adapters.slack.server import start_http
from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import SECRET, answered, start_bot
from tests.bot.process import free_port
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender

HALF_OPEN = b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 500\r\n"  # headers never end

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open_idle(port: int, count: int) -> list[Connection]:
    """`count` connections that never send a whole request (every other one starts one and stalls)."""
    connections = []
    for i in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if i % 2 == 0:
            writer.write(HALF_OPEN)
        connections.append((reader, writer))
    return connections


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed (or reset) this connection."""
    try:
        return await reader.read() == b""
    except ConnectionError:
        return True


async def _close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()
    for _, writer in connections:
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_idle_and_half_open_connections_are_capped_and_closed_and_answers_still_come(
        world: SlackWorld) -> None:
    assert world.service is not None
    app = build_slack_app(world.settings, world.service)
    runner, port = await start_http(app, "127.0.0.1", 0, max_connections=40, idle_timeout_s=1.0)
    sender = SlackSender(world.slack, f"http://127.0.0.1:{port}/slack/events", world.settings.slack_signing_secret)
    connections: list[Connection] = []
    try:
        connections = await _open_idle(port, 200)
        ts = await sender.mention("still there?")  # accepted after all 200: the oldest idle ones made room
        await world.slack.wait_for(answered("C0GENERAL", ts), timeout=10)
        assert runner.server is not None
        assert sum(1 for h in runner.server.connections if h.transport is not None) <= 40

        closed = await asyncio.wait_for(asyncio.gather(*(_closed_by_server(r) for r, _ in connections)), 20)
        assert all(closed)  # none stays open: evicted at once, or timed out idle
        assert len(runner.server.connections) <= 1
    finally:
        await sender.aclose()
        await _close_all(connections)
        await runner.cleanup()


async def test_two_thousand_idle_sockets_do_not_stop_moa_bot_run_answering_or_flood_its_log(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))  # room for our side
    port = free_port()
    async with FakeSlack() as slack:
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        # The process gets the 1,024 descriptors many hosts give, and may not raise that.
        proc = await start_bot(slack, fake_groq, tmp_path, port, descriptor_limit=1024)
        connections: list[Connection] = []
        try:
            connections = await _open_idle(port, 2000)
            ts = await sender.mention("answer me through the crowd")
            await slack.wait_for(answered("C0GENERAL", ts), timeout=20)
            # The cap, not the idle timeout, kept it answering: it never came near its 1,024 descriptors.
            assert len(os.listdir(f"/proc/{proc.pid}/fd")) < 700
            command = await sender.command("show")
            assert command == 200
            await slack.wait_for(lambda s: s.responses, timeout=10)
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            await sender.aclose()
            await _close_all(connections)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, stderr.decode()[-2000:]
        assert len(stderr) < 20_000, stderr.decode()[-2000:]  # a line a minute, not a flood
