"""Show layers (button) and 🔍 (reaction): the right run's intermediate answers, even after a restart."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from storage.errors import StorageFailure
from tests.adapters.slack.conftest import SlackWorld
from tests.fakes.slack_api import FakeMessage, FakeSlack


def _block_text(message: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in message.get("blocks", []) if b.get("type") == "section")


async def _answer(world: SlackWorld, question: str, channel: str = "C0GENERAL") -> FakeMessage:
    ts = await world.send.mention(question, channel=channel)

    def done(slack: FakeSlack) -> bool:
        msgs = slack.thread(channel, ts)
        return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming

    await world.slack.wait_for(done)
    return world.slack.thread(channel, ts)[-1]


async def test_show_layers_after_restart_shows_that_runs_layers_to_the_presser(world: SlackWorld) -> None:
    first = await _answer(world, "first question")
    await _answer(world, "second question")
    await world.restart()

    assert await world.send.press(first, user="U0BOB") == 200

    await world.slack.wait_for(lambda s: bool(s.ephemerals))
    shown = world.slack.ephemerals
    assert {e["user"] for e in shown} == {"U0BOB"} and {e["thread_ts"] for e in shown} == {first.thread_ts}
    text = "\n".join(_block_text(e) for e in shown)
    assert "first question" in text and "second question" not in text
    for layer in (1, 2, 3):
        assert f"Layer {layer} of 3" in text
    assert "openai/gpt-oss-20b" in text  # agents and models named
    assert world.slack.bot_messages() and all(not m.streaming for m in world.slack.bot_messages())


async def test_show_layers_marks_failed_agents(world: SlackWorld) -> None:
    world.groq.fail("qwen/qwen3.8-27b", 413, times=20)
    answer = await _answer(world, "robust?")
    await world.send.press(answer)
    await world.slack.wait_for(lambda s: bool(s.ephemerals))
    text = "\n".join(_block_text(e) for e in world.slack.ephemerals)
    assert "failed" in text and "qwen/qwen3.8-27b" in text


async def test_button_from_another_channel_reveals_nothing(world: SlackWorld) -> None:
    answer = await _answer(world, "private matters", channel="C0SECRET")
    forged = replace(answer, channel="C0GENERAL")  # same run id, pressed where that run did not happen

    await world.send.press(forged, response="forged")

    await world.slack.wait_for(lambda s: any(r["_url"] == "forged" for r in s.responses))
    [reply] = [r for r in world.slack.responses if r["_url"] == "forged"]
    assert reply["response_type"] == "ephemeral" and "can't find" in reply["text"]
    assert not world.slack.ephemerals


async def test_long_layers_are_split_to_fit_slack(world: SlackWorld) -> None:
    world.groq.chunk_chars = 500
    world.groq.reply = lambda call: f"{call.model} thinks: " + ("All work and no play. " * 350)  # ~7.7k each
    answer = await _answer(world, "write a lot")
    await world.send.press(answer)
    # the layer view ends with the aggregator's line
    await world.slack.wait_for(lambda s: any("Final answer by" in _block_text(e) for e in s.ephemerals))
    assert all(c.ok for c in world.slack.calls_to("chat.postEphemeral"))
    assert len(world.slack.ephemerals) > 1
    text = "".join(_block_text(e) for e in world.slack.ephemerals)
    assert text.count("thinks:") == 9  # 3 layers × 3 agents, none cut
    assert text.count("All work and no play.") == 9 * 350


async def test_mag_reaction_after_restart_posts_layers_in_the_thread(world: SlackWorld) -> None:
    answer = await _answer(world, "why is the sky blue?")
    await world.restart()

    await world.send.react(answer.channel, "1599999999.000009", "mag")  # someone else's message: ignored
    await world.send.react(answer.channel, answer.ts, "thumbsup")  # another emoji: ignored
    await world.send.react(answer.channel, answer.ts, "mag_right")

    def layers_posted(slack: FakeSlack) -> bool:
        return any("Layer 1 of 3" in m.markdown for m in slack.thread(answer.channel, answer.thread_ts or ""))

    await world.slack.wait_for(layers_posted)
    posts = [m for m in world.slack.thread(answer.channel, answer.thread_ts or "") if m.ts != answer.ts]
    assert posts and "why is the sky blue?" in posts[0].markdown
    assert "Final answer by" in posts[-1].markdown  # the whole view
    assert len(world.slack.calls_to("chat.postMessage")) == len(posts)  # one reveal, nothing else


async def test_magnifier_while_storage_cannot_be_read_tells_the_member_why(
        world: SlackWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = await _answer(world, "what is MoA?")
    assert world.service is not None

    async def damaged(*args: object) -> None:  # a unit seam: real damage is not reproducible on demand
        raise StorageFailure("damaged", "database disk image is malformed")

    monkeypatch.setattr(world.service.db.runs, "find_by_message", damaged)
    assert await world.send.react("C0GENERAL", answer.ts, "mag", user="U0BOB") == 200

    [told] = await world.slack.wait_for(lambda s: s.ephemerals)
    assert told["user"] == "U0BOB" and told["channel"] == "C0GENERAL"
    assert "can't read this bot's storage" in told["text"] and "damaged" in told["text"]
    assert "Intermediate" not in str(world.slack.bot_messages())  # nothing posted for everyone
