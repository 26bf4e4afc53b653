"""A wait for a model's rate limit is shown in the Discord status message."""

from __future__ import annotations

import asyncio

from tests.adapters.discord.conftest import RunningBot
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeGroq

WAIT = "waiting for Groq's token budget for gpt-oss-120b — about"


async def test_a_budget_wait_is_a_line_of_the_status(discord: FakeDiscord, fake_groq: FakeGroq,
                                                     bot: RunningBot) -> None:
    fake_groq.limit("openai/gpt-oss-120b", tpm=2600, window_s=2.5)  # one aggregator call per window
    await asyncio.gather(*(discord.say(discord.general, who, f"{discord.bot_mention} question {i}")
                           for i, who in enumerate((discord.alice, discord.bob))))
    await fake_groq.wait_for(lambda f: sum(1 for c in f.calls if c.stream and c.status == 200) == 2, timeout=20)
    edits = [c.json.get("content", "") for c in discord.calls_to("PATCH", r"/channels/\d+/messages/\d+")
             if isinstance(c.json, dict)]
    assert any(WAIT in text for text in edits)
