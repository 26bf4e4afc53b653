"""A wait for a model's rate limit is shown on Slack, as a streamed task or in the status text."""

from __future__ import annotations

import asyncio

from tests.adapters.slack.conftest import SlackWorld
from tests.fakes.slack_api import FakeSlack

WAIT = "waiting for Groq's token budget for gpt-oss-120b — about"


def _finished(channel: str, thread: str):
    def check(slack: FakeSlack) -> bool:
        msgs = slack.thread(channel, thread)
        return bool(msgs) and bool(msgs[-1].buttons) and not any(m.streaming for m in msgs)
    return check


async def _two_mentions_sharing_the_aggregators_budget(world: SlackWorld) -> list[tuple[str, str]]:
    world.groq.limit("openai/gpt-oss-120b", tpm=2600, window_s=2.5)  # one aggregator call per window
    asked = [("C0GENERAL", await world.send.mention("first", channel="C0GENERAL")),
             ("C0RANDOM", await world.send.mention("second", channel="C0RANDOM"))]
    await asyncio.gather(*(world.slack.wait_for(_finished(c, ts), timeout=20) for c, ts in asked))
    return asked


async def test_a_budget_wait_is_a_task_in_the_streamed_plan(world: SlackWorld) -> None:
    asked = await _two_mentions_sharing_the_aggregators_budget(world)
    chunks = [chunk for channel, ts in asked for m in world.slack.thread(channel, ts) for chunk in m.streamed]
    waits = [c for c in chunks if c.get("type") == "task_update" and str(c.get("id", "")).startswith("budget:")]
    assert waits and WAIT in waits[0]["title"] and waits[0]["status"] == "in_progress"
    assert waits[-1]["status"] == "complete"  # told over once the call may go


async def test_a_budget_wait_is_a_line_of_the_status_without_streaming(world: SlackWorld) -> None:
    world.slack.streaming = False
    await _two_mentions_sharing_the_aggregators_budget(world)
    updates = [c for c in world.slack.calls if c.method in ("chat.update", "chat.postMessage")]
    assert any(WAIT in str(c.args.get("text", "")) + str(c.args.get("blocks", "")) for c in updates)
