"""Mentions, threads, follow-ups and DMs, through real discord.py against the fake Discord."""

from __future__ import annotations

from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import AGGREGATOR, answers
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeCall, FakeGroq


async def test_mention_starts_a_thread_named_from_the_question_and_answers_there_with_a_button(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} is 9.11 or 9.9 larger?")

    thread = await discord.wait_for(lambda f: f.channels.get(question["id"]))
    assert thread["name"] == "is 9.11 or 9.9 larger?"
    assert thread["parent_id"] == discord.general
    [answer] = await discord.wait_for(lambda f: answers(f, question["id"]))
    assert answer["content"].startswith(f"{AGGREGATOR} says: is 9.11 or 9.9 larger?")
    assert [b.get("label") or b["emoji"]["name"] for b in discord.buttons(answer)] == ["Show layers", "👍", "👎"]
    assert discord.bot_messages(discord.general) == []  # nothing posted in the channel itself


async def test_a_bare_mention_is_told_what_to_do_without_a_thread(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    await discord.say(discord.general, discord.alice, f"{discord.bot_mention}   ")

    [reply] = await discord.wait_for(lambda f: f.bot_messages(discord.general))
    assert "Ask me something after the mention" in reply["content"]
    assert discord.threads() == []
    assert fake_groq.calls == []


async def test_typing_and_a_status_appear_before_any_model_answers(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    fake_groq.latency = 0.4
    question = await discord.say(discord.general, discord.bob, f"{discord.bot_mention} why is the sky blue?")

    status = await discord.wait_for(lambda f: f.bot_messages(question["id"]))
    typing = discord.calls_to("POST", rf"/channels/{question['id']}/typing")[0]
    posted = discord.calls_to("POST", rf"/channels/{question['id']}/messages")[0]
    # at once: both are there before the first model has answered (each takes 0.4 s here)
    await fake_groq.wait_for(lambda g: any(c.ended is not None for c in g.calls))
    first_answer = min(c.ended for c in fake_groq.calls if c.ended is not None)
    assert typing.at < first_answer and posted.at < first_answer
    assert "Layer 1/3" in status[0]["content"]
    assert "says:" not in status[0]["content"]  # state, not the intermediate answers
    await discord.wait_for(lambda f: answers(f, question["id"]), timeout=5)


async def test_mention_inside_a_thread_is_answered_in_that_thread(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    first = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} first question")
    await discord.wait_for(lambda f: answers(f, first["id"]))

    await discord.say(first["id"], discord.bob, f"{discord.bot_mention} and a second one?")

    both = await discord.wait_for(lambda f: len(answers(f, first["id"])) == 2 and answers(f, first["id"]))
    assert "and a second one?" in both[1]["content"]
    assert len(discord.threads()) == 1


async def test_follow_up_in_a_bot_thread_needs_no_mention_with_the_message_content_intent(
        discord: FakeDiscord, fake_groq: FakeGroq, start_bot) -> None:
    await start_bot(DISCORD_MESSAGE_CONTENT="1")
    first = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} name a red fruit")
    await discord.wait_for(lambda f: answers(f, first["id"]))

    await discord.say(first["id"], discord.alice, "and a yellow one?")

    both = await discord.wait_for(lambda f: len(answers(f, first["id"])) == 2 and answers(f, first["id"]))
    assert "and a yellow one?" in both[1]["content"]
    # the agents saw the earlier turn, from storage
    last_call = fake_groq.calls_to(AGGREGATOR)[-1]
    assert any("name a red fruit" in str(m.get("content")) for m in last_call.messages)


async def test_without_the_message_content_intent_plain_thread_messages_are_left_alone(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    first = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} name a red fruit")
    await discord.wait_for(lambda f: answers(f, first["id"]))
    calls = len(fake_groq.calls)

    await discord.say(first["id"], discord.alice, "and a yellow one?")
    ping = await discord.say(first["id"], discord.alice, f"{discord.bot_mention} yellow then?")

    both = await discord.wait_for(lambda f: len(answers(f, first["id"])) == 2 and answers(f, first["id"]))
    assert "yellow then?" in both[1]["content"]
    assert all("and a yellow one" not in c.question for c in fake_groq.calls[calls:])
    assert ping["id"] not in discord.channels  # no thread inside a thread


async def test_a_direct_message_is_answered_directly(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    dm = await discord.open_dm(discord.bob)

    await discord.say(dm, discord.bob, "what is MoA?")

    [answer] = await discord.wait_for(lambda f: answers(f, dm))
    assert "what is MoA?" in answer["content"]
    assert discord.threads() == []


async def test_the_intents_asked_for_are_the_ones_used(
        discord: FakeDiscord, bot: RunningBot, start_bot) -> None:
    import discord as dpy

    sent = dpy.Intents._from_value(discord.identifies[-1]["intents"])
    assert sent.guilds and sent.guild_messages and sent.guild_reactions and sent.dm_messages
    assert not sent.message_content and not sent.members and not sent.presences
    await bot.stop()
    await start_bot(DISCORD_MESSAGE_CONTENT="1")
    assert dpy.Intents._from_value(discord.identifies[-1]["intents"]).message_content


def disagreeing(call: FakeCall) -> str:
    """The default config's three agents, each with a view of its own."""
    if call.model == AGGREGATOR:
        return "No verdict here."
    views = {"Think": "Rivers run to the sea.", "Respond": "Mountains hold the snow.", "You are": "Stars burn."}
    return next(view for start, view in views.items() if call.system.startswith(start))


async def test_the_answer_says_small_how_far_the_agents_agreed_and_nothing_when_they_did_not(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    fake_groq.reply = lambda call: "The answer is 9.9." if call.model != AGGREGATOR else "9.9 is larger."
    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} 9.11 or 9.9?")
    [answer] = await discord.wait_for(lambda f: answers(f, question["id"]))
    assert answer["content"] == "9.9 is larger.\n\n-# 3 of 3 agents agreed"

    fake_groq.reply = disagreeing
    second = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} say anything")
    [answer] = await discord.wait_for(lambda f: answers(f, second["id"]))
    assert answer["content"] == "No verdict here."  # nothing claims agreement
