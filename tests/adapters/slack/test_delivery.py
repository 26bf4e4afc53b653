"""Slack's delivery quirks: retries and redeliveries, forged or stale requests."""

from __future__ import annotations

import json
import time

from tests.adapters.slack.conftest import SlackWorld
from tests.fakes.slack_api import FakeSlack


def _answers(slack: FakeSlack) -> list[str]:
    return [m.ts for m in slack.bot_messages() if m.buttons]


async def test_retried_event_gets_one_answer(world: SlackWorld) -> None:
    ts = await world.send.mention("once please", event_id="Ev0RETRY")
    await world.send.mention("once please", ts=ts, event_id="Ev0RETRY", retry=1)
    await world.send.mention("once please", ts=ts, event_id="Ev0RETRY", retry=2)
    await world.send.mention("once please", ts=ts, event_id="Ev0REDELIVERED")  # same message, new id
    later = await world.send.mention("a different question")

    await world.slack.wait_for(lambda s: len(_answers(s)) == 2 and not any(m.streaming for m in s.bot_messages()))
    assert len(world.slack.thread("C0GENERAL", ts)) == 1
    assert len(world.slack.thread("C0GENERAL", later)) == 1
    assert sum(1 for c in world.groq.calls if c.question == "once please") == 10  # one 3×3 run + aggregator


async def test_bad_signature_is_rejected_with_401_and_no_answer(world: SlackWorld) -> None:
    body = json.dumps({"type": "event_callback", "team_id": world.slack.team_id, "event_id": "Ev0FORGED",
                       "event": {"type": "app_mention", "user": "U0EVE", "channel": "C0GENERAL",
                                 "text": f"<@{world.slack.bot_user_id}> forged", "ts": "1.000001"}}).encode()

    assert await world.send.post(body, "application/json", secret="wrong-secret") == 401
    assert await world.send.post(body, "application/json", timestamp=int(time.time()) - 600) == 401  # stale

    ts = await world.send.mention("genuine")
    await world.slack.wait_for(lambda s: len(_answers(s)) == 1)
    assert [c.question for c in world.groq.calls if c.question != "genuine"] == []
    assert world.slack.thread("C0GENERAL", ts)


async def test_url_verification_echoes_the_challenge(world: SlackWorld) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "legacy"}).encode()
    assert await world.send.post(body, "application/json") == 200
