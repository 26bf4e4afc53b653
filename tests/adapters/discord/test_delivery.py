"""Getting the answer there whole, once, and without pinging anyone — whatever Discord does meanwhile."""

from __future__ import annotations

import pytest

from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import AGGREGATOR, answers
from tests.edit_pacing import assert_paced
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeCall, FakeGroq

PARAGRAPH = ("Mixture-of-Agents layers several models; each layer reads the previous answers. " * 3).strip()


def long_answer(call: FakeCall) -> str:
    if call.model != AGGREGATOR:
        return "Having weighed it, the answer is **42**."
    paragraphs = [f"{i}. {PARAGRAPH}" for i in range(24)]
    paragraphs.insert(10, "```python\n" + "\n".join(f"print({i})" for i in range(60)) + "\n```")
    return "\n\n".join(paragraphs)


async def test_a_6000_character_answer_arrives_whole_split_at_paragraphs(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    fake_groq.reply = long_answer
    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} explain MoA at length")

    await discord.wait_for(lambda f: answers(f, question["id"]))

    parts = [m["content"] for m in discord.bot_messages(question["id"])]
    expected = fake_groq.calls_to(AGGREGATOR)[-1].reply_text
    assert len(expected) > 6000 and len(parts) >= 4
    assert all(len(p) <= 2000 for p in parts)
    # the answer, then the agents' verdict in small print: nothing cut, nothing lost
    answer, verdict = "\n\n".join(parts).rsplit("\n\n-# ", 1)
    assert answer.replace("```\n\n```python\n", "\n") == expected
    assert verdict == "3 of 3 agents agreed"  # the fake's agents all conclude 42
    assert all(p.count("```") % 2 == 0 for p in parts)  # every part's code block is closed
    with_button = [i for i, m in enumerate(discord.bot_messages(question["id"])) if discord.buttons(m)]
    assert with_button == [len(parts) - 1]


@pytest.mark.parametrize("how", ["op 7 reconnect", "close 4000"])
async def test_the_gateway_dropping_mid_answer_still_ends_in_one_answer(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot, how: str) -> None:
    fake_groq.latency = 0.15
    discord.redeliver_on_resume = True  # and Discord delivers the question again after the RESUME
    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} survive a reconnect?")
    await discord.wait_for(lambda f: f.bot_messages(question["id"]))

    if how == "op 7 reconnect":
        await discord.reconnect()
    else:
        await discord.drop(4000)

    await discord.wait_for(lambda f: f.resumes and f.connected)
    [answer] = await discord.wait_for(lambda f: answers(f, question["id"]), timeout=5)
    assert "survive a reconnect?" in answer["content"]
    assert len(discord.calls_to("POST", r"/channels/\d+/messages/\d+/threads")) == 1
    assert len(fake_groq.calls_to(AGGREGATOR)) == 1
    assert len(discord.identifies) == 1  # resumed, not a new session
    assert discord.deliveries(question["id"]) == 2


async def test_a_question_with_everyone_and_mentions_pings_nobody(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    text = f"{discord.bot_mention} tell @everyone and @here and <@{discord.bob.id}> and <@&{discord.mod_role}> hi"
    question = await discord.say(discord.general, discord.alice, text)

    [answer] = await discord.wait_for(lambda f: answers(f, question["id"]))
    assert "@everyone" in answer["content"] and f"<@{discord.bob.id}>" in answer["content"]  # echoed…
    pressed = await discord.press(answer["id"], discord.alice)
    await discord.wait_for(lambda f: pressed.followups)
    await discord.react(answer["id"], discord.alice)
    await discord.wait_for(lambda f: any("Intermediate" in m["content"] for m in f.bot_messages(question["id"])))

    assert discord.pings == []  # …but nobody was notified by any message


async def test_rate_limited_edits_are_retried_and_the_answer_still_lands(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    discord.rate_limit("PATCH", r"/channels/\d+/messages/\d+", retry_after=0.1, times=2)
    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} slow down?")

    [answer] = await discord.wait_for(lambda f: answers(f, question["id"]))

    assert "slow down?" in answer["content"]
    assert [c.status for c in discord.calls_to("PATCH", r"/channels/\d+/messages/\d+")][:2] == [429, 429]


async def test_status_edits_come_no_faster_than_once_a_second(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    fake_groq.latency = 0.3  # three layers and a streamed aggregator: many events within ~1.2 s
    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} pace yourself")

    await discord.wait_for(lambda f: answers(f, question["id"]), timeout=5)

    thread = question["id"]
    writes = [c.at for c in discord.calls if c.path.startswith(f"/channels/{thread}/messages")
              and c.method in ("POST", "PATCH")]
    status, progress = writes[0], writes[1:-1]  # the final answer goes out at once, after the last edit landed
    assert progress
    assert_paced(status, progress, interval=1.0)
