"""👍/👎 under Discord answers (persistent across restarts), `/moa usage` and `/moa budget`, through discord.py."""

from __future__ import annotations

from typing import Any

from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import ask, replied
from tests.fakes.discord_server import FakeDiscord, FakeUser
from tests.fakes.groq_server import FakeGroq


def _vote_button(fake: FakeDiscord, answer: dict[str, Any], vote: str) -> str:
    [custom_id] = [b["custom_id"] for b in fake.buttons(answer) if b["custom_id"].startswith(f"moa:vote:{vote}:")]
    return custom_id


async def _press(fake: FakeDiscord, answer: dict[str, Any], vote: str, user: FakeUser) -> str:
    inter = await fake.press(answer["id"], user, _vote_button(fake, answer, vote))
    text = await replied(fake, inter)
    assert inter.callbacks[0]["type"] == 5 and inter.ephemeral  # deferred at once, told privately
    return text


async def test_a_vote_after_a_restart_counts_and_a_second_press_replaces_it(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    _, answer = await ask(discord, bot, "is 9.11 larger than 9.9?")
    assert [b.get("emoji", {}).get("name") for b in discord.buttons(answer)] == ["🔍", "👍", "👎"]
    await bot.restart()  # the buttons are DynamicItems: no view survives, the custom id carries the run

    first = await _press(discord, answer, "down", discord.bob)
    changed = await _press(discord, answer, "up", discord.bob)

    assert first.startswith("Thanks — your 👎 is counted")
    assert changed == "Changed your vote on this answer from 👎 to 👍."
    usage = await replied(discord, await discord.slash(discord.general, discord.bob, "usage"))
    [votes] = [line.split() for line in usage.splitlines() if line.startswith("👍/👎")]
    assert votes[1:] == ["1/0", "1/0", "1/0"]
    [answers] = [line.split() for line in usage.splitlines() if line.startswith("answers")]
    assert answers[1:] == ["1", "1", "1"]


async def test_a_member_over_budget_is_told_in_a_sentence_and_another_member_is_answered(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    refused = await discord.slash(discord.general, discord.bob, "budget", options={"setting": "answers", "amount": 1})
    assert "Only channel admins" in await replied(discord, refused)
    changed = await discord.slash(discord.general, discord.alice, "budget", options={"setting": "answers", "amount": 1})
    assert "Each member may get 1 answer a day" in await replied(discord, changed)
    await ask(discord, bot, "alice's one question")  # alice asks in ask()
    calls = len(fake_groq.calls)

    again = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} and another one")
    thread = await discord.wait_for(lambda f: f.channels.get(again["id"]))
    [told] = await discord.wait_for(lambda f: bot.idle and f.bot_messages(thread["id"]))

    assert "used 1 of your 1 answer for today" in told["content"] and "UTC" in told["content"]
    assert not discord.buttons(told) and len(fake_groq.calls) == calls
    bobs = await discord.say(discord.general, discord.bob, f"{discord.bot_mention} bob asks")
    await discord.wait_for(lambda f: bot.idle and any(
        b["custom_id"].startswith("moa:vote:") for m in f.bot_messages(f.channels.get(bobs["id"], {}).get("id", ""))
        for b in f.buttons(m)))
    assert len(fake_groq.calls) == calls + 10

    shown = await replied(discord, await discord.slash(discord.general, discord.bob, "budget"))
    assert "• Answers per member: 1 (this channel's) — you've used 1 today" in shown
