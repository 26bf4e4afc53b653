"""Helpers the Discord adapter's tests share: asking through the fake gateway and reading what the bot posted."""

from __future__ import annotations

from tests.adapters.discord.conftest import RunningBot
from tests.fakes.discord_server import FakeDiscord

AGGREGATOR = "openai/gpt-oss-120b"


def answers(fake: FakeDiscord, channel_id: str) -> list[dict]:
    """Bot messages in a channel that carry the Show layers button."""
    return [m for m in fake.bot_messages(channel_id)
            if any(b["custom_id"].startswith("moa:layers:") for b in fake.buttons(m))]


async def replied(fake: FakeDiscord, inter) -> str:
    await fake.wait_for(lambda f: inter.followups)
    return inter.text


async def ask(fake: FakeDiscord, bot: RunningBot, question: str) -> tuple[str, dict]:
    """A mention in #general; returns the thread id and the answer message, once the run is recorded."""
    msg = await fake.say(fake.general, fake.alice, f"{fake.bot_mention} {question}")
    # The answer is visible a moment before the service has stored which messages carry it.
    [answer] = await fake.wait_for(lambda f: bot.idle and answers(f, msg["id"]))
    return msg["id"], answer


def inter_text(inter) -> str:
    return inter.text if inter.followups else ""
