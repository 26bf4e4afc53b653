"""Tagged into a Discord thread, or replying to a message: what was said before reaches the models — and
nothing from another channel does."""

from __future__ import annotations

import pytest

from adapters.discord import thread as thread_reader
from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import answers
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeGroq


def everything_sent(groq: FakeGroq) -> str:
    return "\n".join(str(m.get("content")) for call in groq.calls for m in call.messages)


async def test_a_threads_earlier_messages_and_files_reach_the_models_with_their_authors(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    starter = await discord.say(discord.general, discord.bob, "the deploy failed at 3am")
    thread = await discord.person_thread(discord.general, starter, "deploy")
    trace = discord.attachment(thread, "trace.log", "text/plain", b"OOMKilled: api exceeded 512Mi")
    await discord.say(thread, discord.bob, "here is the trace", attachments=[trace])
    question = await discord.say(thread, discord.alice, f"{discord.bot_mention} why did it fail?")

    await discord.wait_for(lambda f: answers(f, thread), timeout=10)
    assert fake_groq.calls
    for call in fake_groq.calls:
        sent = "\n".join(str(m["content"]) for m in call.messages)
        assert "bob: the deploy failed at 3am" in sent
        assert "bob: here is the trace" in sent and "OOMKilled: api exceeded 512Mi" in sent
        assert "why did it fail?" in call.question
    assert question["id"] not in {m["id"] for m in discord.bot_messages(thread)}


async def test_the_message_a_mention_replies_to_reaches_the_models(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    earlier = await discord.say(discord.general, discord.bob, "we ship version 2 on Monday")
    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} is that realistic?",
                                 message_reference={"message_id": earlier["id"], "channel_id": discord.general,
                                                    "guild_id": discord.guild_id},
                                 referenced_message=earlier)

    await discord.wait_for(lambda f: answers(f, question["id"]), timeout=10)
    assert "bob: we ship version 2 on Monday" in everything_sent(fake_groq)


async def test_a_reply_to_a_message_in_another_channel_never_reaches_the_models(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    elsewhere = await discord.say(discord.random, discord.bob, "the merger closes on Friday")
    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} what was decided?",
                                 message_reference={"message_id": elsewhere["id"], "channel_id": discord.random,
                                                    "guild_id": discord.guild_id},
                                 referenced_message=elsewhere)

    await discord.wait_for(lambda f: answers(f, question["id"]), timeout=10)
    assert fake_groq.calls
    assert "merger" not in everything_sent(fake_groq)


async def test_a_long_paste_in_a_thread_is_cut_and_the_fact_before_it_still_reaches_the_models(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    starter = await discord.say(discord.general, discord.bob, "which port does staging use?")
    thread = await discord.person_thread(discord.general, starter, "staging")
    await discord.say(thread, discord.bob, "staging listens on port 8443")
    # Nitro members may send 4,000 characters (~1,000 tokens): two such pastes outgrow the history budget.
    await discord.say(thread, discord.bob, "the whole config:\n" + "key = value\n" * 320)
    await discord.say(thread, discord.bob,
                      "and the old one:\n" + "old = thing\n" * 320)
    await discord.say(thread, discord.alice, f"{discord.bot_mention} so which port?")

    await discord.wait_for(lambda f: answers(f, thread), timeout=10)
    sent = everything_sent(fake_groq)
    assert "bob: staging listens on port 8443" in sent
    assert "[… cut: this message was too long to keep whole]" in sent


async def test_a_thread_longer_than_what_is_read_says_older_messages_were_not_read(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thread_reader, "MAX_MESSAGES", 4)  # the newest four (Discord pages 100 at a time)
    starter = await discord.say(discord.general, discord.bob, "release checklist")
    thread = await discord.person_thread(discord.general, starter, "release")
    for n in range(1, 8):
        await discord.say(thread, discord.bob, f"step {n} is done")
    await discord.say(thread, discord.alice, f"{discord.bot_mention} what is left?")

    await discord.wait_for(lambda f: answers(f, thread), timeout=10)
    shown = "\n".join(m["content"] for m in discord.bot_messages(thread))
    sent = everything_sent(fake_groq)
    assert "step 7 is done" in sent and "step 4 is done" in sent  # the newest reach the models
    assert "step 3 is done" not in sent
    assert "release checklist" in sent  # and what the thread is about
    assert "older ones were not read" in shown  # the note never counts the read messages as the whole thread
