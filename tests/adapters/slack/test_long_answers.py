"""Answers longer than a Slack message, and a Web API that pushes back."""

from __future__ import annotations

from tests.adapters.slack.conftest import SlackWorld
from tests.fakes.groq_server import FakeCall
from tests.fakes.slack_api import FakeSlack

STRONG = "openai/gpt-oss-120b"


def _long_answer(call: FakeCall) -> str:
    # Numbered paragraphs: any lost or reordered piece shows up.
    paragraphs = [f"Paragraph {i:03d}: " + "words that carry meaning " * 8 for i in range(48)]
    return "\n\n".join([*paragraphs, "In short, the answer is 42."])  # about 10,000 characters


def _squash(text: str) -> str:
    return "".join(text.split())


# Every agent writes the same long text ending in the same answer, so the answer ends with their verdict
# in small print.
VERDICT = "3 of 3 agents agreed"


def _finished(channel: str, thread: str):
    def check(slack: FakeSlack) -> bool:
        msgs = slack.thread(channel, thread)
        return bool(msgs) and bool(msgs[-1].buttons) and not any(m.streaming for m in msgs)
    return check


async def test_ten_thousand_character_answer_arrives_whole_across_messages(world: SlackWorld) -> None:
    world.groq.chunk_chars = 400
    world.groq.reply = _long_answer
    expected = _long_answer(None)  # type: ignore[arg-type]
    assert len(expected) >= 10_000

    ts = await world.send.mention("tell me everything")

    await world.slack.wait_for(_finished("C0GENERAL", ts), timeout=5)
    messages = world.slack.thread("C0GENERAL", ts)
    assert len(messages) >= 3
    assert _squash(world.slack.thread_answer("C0GENERAL", ts)) == _squash(expected + VERDICT)
    assert [bool(m.buttons) for m in messages] == [False] * (len(messages) - 1) + [True]
    assert all(c.ok for c in world.slack.calls)


async def test_msg_too_long_is_resplit_not_truncated(world: SlackWorld) -> None:
    world.slack.streaming = False
    world.slack.max_text_chars = 1_500  # this "workspace" refuses far shorter messages than Slack does
    world.groq.chunk_chars = 400
    world.groq.reply = _long_answer
    ts = await world.send.mention("tell me everything")

    await world.slack.wait_for(_finished("C0GENERAL", ts), timeout=5)
    assert any(c.error == "msg_too_long" for c in world.slack.calls)
    assert _squash(world.slack.thread_answer("C0GENERAL", ts)) == _squash(_long_answer(None) + VERDICT)  # type: ignore[arg-type]


async def test_rate_limited_edits_still_deliver_the_answer(world: SlackWorld) -> None:
    world.slack.streaming = False
    world.slack.fail("chat.update", "ratelimited", times=2, retry_after=0.2)
    ts = await world.send.mention("under pressure")

    await world.slack.wait_for(_finished("C0GENERAL", ts), timeout=5)
    assert "says: under pressure" in world.slack.thread_answer("C0GENERAL", ts)
    assert any(c.error == "ratelimited" for c in world.slack.calls)


async def test_failed_edit_posts_the_answer_as_a_new_message(world: SlackWorld) -> None:
    world.slack.streaming = False
    world.slack.fail("chat.update", "cant_update_message", times=50)
    ts = await world.send.mention("edit me")

    await world.slack.wait_for(_finished("C0GENERAL", ts), timeout=5)
    assert "says: edit me" in world.slack.thread(("C0GENERAL"), ts)[-1].markdown


async def test_broken_stream_falls_back_to_edits(world: SlackWorld) -> None:
    world.groq.latency = 0.3
    world.slack.fail("chat.appendStream", "message_not_in_streaming_state", times=50)
    world.slack.fail("chat.stopStream", "message_not_in_streaming_state", times=50)
    ts = await world.send.mention("stream me")

    await world.slack.wait_for(_finished("C0GENERAL", ts), timeout=5)
    assert "says: stream me" in world.slack.thread_answer("C0GENERAL", ts)
