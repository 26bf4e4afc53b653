"""Hostile requests to the Slack endpoint: signed but malformed bodies get a 400 (no traceback, no vote from
nobody), and a flood of clients trickling their bodies a byte a second cannot starve a real mention."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
from typing import Any
from urllib.parse import urlencode

import pytest

from adapters.slack.app import build_slack_app
from adapters.slack.server import start_http
from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import answered
from tests.fakes.slack_api import SlackSender


def _press(payload: Any) -> tuple[bytes, str]:
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def _event(event: Any) -> tuple[bytes, str]:
    return json.dumps({"type": "event_callback", "team_id": "T0", "event": event}).encode(), "application/json"


BUTTON = {"type": "block_actions", "team": {"id": "T0"}, "channel": {"id": "C0GENERAL"},
          "response_url": "", "actions": [{"action_id": "feedback", "value": "up:1"}]}
MALFORMED = {
    "actions null": _press({**BUTTON, "user": {"id": "U0ALICE"}, "actions": None}),
    "payload a list": _press([1, 2, 3]),
    "press without a member": _press({**BUTTON, "user": {}}),
    "channel an object's place taken by text": _press({**BUTTON, "user": {"id": "U0ALICE"}, "channel": "C0"}),
    "event null": _event(None),
    "event user an object": _event({"type": "app_mention", "user": {"id": "U0"}, "channel": "C0GENERAL",
                                    "text": "hi", "ts": "1.0"}),
    "event channel an object": _event({"type": "app_mention", "user": "U0", "channel": {"id": "C0"},
                                       "text": "hi", "ts": "1.0"}),
    "deeply nested": (b'{"type": "event_callback", "event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                      "application/json"),
    "truncated": (b'{"type": "event_callback", "event": {"type": "app_mention", "user": "U0', "application/json"),
}


@pytest.mark.parametrize("body, content_type", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_signed_malformed_request_gets_a_400_and_the_bot_keeps_answering(
        world: SlackWorld, body: bytes, content_type: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert await world.send.post(body, content_type) == 400
    ts = await world.send.mention("still answering?")
    await world.slack.wait_for(answered("C0GENERAL", ts))
    assert world.slack.responses == []  # no vote acknowledged, for member "" or anyone
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


SLOW = (b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n")


async def _trickle(port: int, opened: asyncio.Queue[None]) -> bool:
    """One slow client: announces a 100 kB body and sends a byte a second; True once the server closed it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(SLOW)
        await writer.drain()
        opened.put_nowait(None)
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):  # the flood's pace: a byte a second
                    if await reader.read(1024) == b"" or reader.at_eof():
                        return True
            writer.write(b"{")
            await writer.drain()
    except ConnectionError:
        return True
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_eight_hundred_slow_bodies_do_not_starve_a_signed_mention_or_flood_the_log(
        world: SlackWorld, caplog: pytest.LogCaptureFixture) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))  # both ends live here
    caplog.set_level(logging.INFO)
    assert world.service is not None
    app = build_slack_app(world.settings, world.service)
    runner, port = await start_http(app, "127.0.0.1", 0, arrival_timeout_s=1.0)  # the default cap: 512
    sender = SlackSender(world.slack, f"http://127.0.0.1:{port}/slack/events", world.settings.slack_signing_secret)
    opened: asyncio.Queue[None] = asyncio.Queue()
    flood = [asyncio.create_task(_trickle(port, opened)) for _ in range(800)]
    try:
        for _ in flood:  # every slow client has announced its body
            await asyncio.wait_for(opened.get(), 30)
        ts = await sender.mention("answer me through the flood")
        await world.slack.wait_for(answered("C0GENERAL", ts), timeout=20)
        closed = await asyncio.wait_for(asyncio.gather(*flood), 30)
        assert all(closed)  # every slow client was closed: none holds a slot
    finally:
        for task in flood:
            task.cancel()
        await asyncio.gather(*flood, return_exceptions=True)
        await sender.aclose()
        await runner.cleanup()
    tracebacks = [r for r in caplog.records if r.exc_info or "never retrieved" in r.getMessage()]
    assert tracebacks == [], tracebacks[:3]
    assert len(caplog.records) < 50  # a line now and then, not one per connection
