"""Revealing an answer's intermediate layers: the persistent button and the 🔍 reaction, also after restarts."""

from __future__ import annotations

import pytest

from storage.errors import StorageFailure
from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import answers, ask, inter_text
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeCall, FakeGroq, default_reply


async def test_show_layers_after_a_restart_answers_the_presser_alone_with_that_runs_layers(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    _, first = await ask(discord, bot, "first question")
    _, second = await ask(discord, bot, "second question")
    await bot.restart()

    pressed = await discord.press(first["id"], discord.bob)

    text = await discord.wait_for(lambda f: inter_text(pressed))
    assert pressed.callbacks[0]["type"] == 5 and pressed.ephemeral
    assert "Layer 1 of 3" in text and "Layer 3 of 3" in text
    assert "layer_agent_1" in text and "openai/gpt-oss-20b" in text
    assert "first question" in text and "second question" not in text
    assert "openai/gpt-oss-20b says: first question [saw 3 answers]" in text  # a layer-2 answer, whole
    assert second["id"] != first["id"]


async def test_a_failed_agent_is_marked_in_the_layers(discord: FakeDiscord, fake_groq: FakeGroq,
                                                      bot: RunningBot) -> None:
    fake_groq.fail("qwen/qwen3.8-27b", 400, times=1)
    _, answer = await ask(discord, bot, "with one failure")

    pressed = await discord.press(answer["id"], discord.alice)

    text = await discord.wait_for(lambda f: inter_text(pressed))
    assert "1 failed" in text and "❌" in text


async def test_magnifier_reaction_after_a_restart_posts_the_layers_in_the_thread(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    thread, answer = await ask(discord, bot, "what is MoA?")
    await bot.restart()

    await discord.react(answer["id"], discord.bob, "🔎")

    posted = await discord.wait_for(lambda f: [m for m in f.bot_messages(thread) if "Intermediate" in m["content"]])
    assert "what is MoA?" in posted[0]["content"] and "Layer 1 of 3" in posted[0]["content"]


async def test_other_reactions_and_reactions_on_other_messages_do_nothing(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    thread, answer = await ask(discord, bot, "what is MoA?")
    before = len(discord.bot_messages(thread))
    chatter = await discord.say(thread, discord.bob, "thanks")  # not for the bot: no answer, no run

    await discord.react(answer["id"], discord.bob, "👍")
    await discord.react(chatter["id"], discord.bob, "🔍")
    await discord.react(answer["id"], discord.bob, "🔍")  # the only one that counts, and it comes last

    await discord.wait_for(lambda f: any("Intermediate" in m["content"] for m in f.bot_messages(thread)))
    layer_posts = [m for m in discord.bot_messages(thread) if "Intermediate" in m["content"]]
    assert len(layer_posts) == 1
    assert len(discord.bot_messages(thread)) == before + 1  # just the layers


async def test_a_button_only_reveals_runs_of_its_own_channel(discord: FakeDiscord, fake_groq: FakeGroq,
                                                            bot: RunningBot) -> None:
    _, answer = await ask(discord, bot, "a secret plan")
    # The same button turning up in another channel (a forwarded or copied message) reveals nothing there.
    elsewhere = await discord.say(discord.random, discord.bob, "look", components=answer["components"])

    pressed = await discord.press(elsewhere["id"], discord.bob)

    text = await discord.wait_for(lambda f: inter_text(pressed))
    assert "can't find" in text and "secret plan" not in text


async def test_long_layers_come_in_pages_that_turn(discord: FakeDiscord, fake_groq: FakeGroq,
                                                   bot: RunningBot) -> None:
    def wordy(call: FakeCall) -> str:
        return default_reply(call) + "\n\n" + "Considerations follow at length. " * 30

    fake_groq.reply = wordy
    _, answer = await ask(discord, bot, "a deep question")
    pressed = await discord.press(answer["id"], discord.alice)
    first = await discord.wait_for(lambda f: pressed.followups and pressed.followups[0])
    assert len(first["content"]) <= 2000 and "page 1 of " in first["content"]
    [next_button] = discord.buttons(first)

    turned = await discord.press_on(first, discord.alice)

    await discord.wait_for(lambda f: turned.original and "page 2 of" in (turned.original.get("content") or ""))
    assert next_button["label"] == "Next ▶"
    assert {b["label"] for b in discord.buttons(turned.original)} == {"◀ Previous", "Next ▶"}


async def test_magnifier_on_a_dm_answer_after_a_restart_posts_the_layers_there(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    dm = await discord.open_dm(discord.bob)
    await discord.say(dm, discord.bob, "private question")
    [answer] = await discord.wait_for(lambda f: answers(f, dm))
    await bot.restart()

    await discord.react(answer["id"], discord.bob, "🔍")

    posted = await discord.wait_for(lambda f: [m for m in f.bot_messages(dm) if "Intermediate" in m["content"]])
    assert "private question" in posted[0]["content"]


async def test_magnifier_while_storage_cannot_be_read_replies_why(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> None:
    thread, answer = await ask(discord, bot, "what is MoA?")
    assert bot.service is not None

    async def damaged(*args: object) -> None:  # a unit seam: real damage is not reproducible on demand
        raise StorageFailure("damaged", "database disk image is malformed")

    monkeypatch.setattr(bot.service.db.runs, "find_by_message", damaged)
    await discord.react(answer["id"], discord.bob, "🔍")

    [told] = await discord.wait_for(lambda f: [m for m in f.bot_messages(thread) if "storage" in m["content"]])
    assert "can't read this bot's storage" in told["content"] and "damaged" in told["content"]
    assert str(told["message_reference"]["message_id"]) == answer["id"]  # a reply to the answer it was asked about
