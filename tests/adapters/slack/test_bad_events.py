"""Malformed but signed Slack events are ignored quietly; the bot keeps answering."""

from __future__ import annotations

import logging

import pytest

from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import answered


@pytest.mark.parametrize("event", [
    {"type": "app_mention", "user": "U0ALICE", "text": "<@UBOT> where am I?", "ts": "1700000000.000100"},
    {"type": "message", "user": "U0ALICE", "text": "hi", "ts": "1700000000.000200", "channel_type": "im"},
    {"type": "message", "user": "U0ALICE", "text": "hi", "ts": "1700000000.000300", "thread_ts": "1.0"},
    {"type": "reaction_added", "user": "U0ALICE", "reaction": "mag", "item": {"type": "message"}},
], ids=["mention", "dm", "thread-reply", "reaction"])
async def test_a_signed_event_without_a_channel_is_ignored_without_an_error(
        world: SlackWorld, event: dict[str, object], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    assert await world.send.event(event) == 200

    ts = await world.send.mention("still answering?")  # the bot is fine
    await world.slack.wait_for(answered("C0GENERAL", ts))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert world.slack.calls_to("chat.postMessage") == [] or all(
        c.args.get("channel") for c in world.slack.calls_to("chat.postMessage"))
