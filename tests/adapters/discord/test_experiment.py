"""`/moa experiment` on Discord, through discord.py: admins only, answers alternate, the standing, stop."""

from __future__ import annotations

from typing import Any

from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import ask, replied
from tests.fakes.discord_server import FakeDiscord


def _aggregator_saw(answer: dict[str, Any]) -> str:
    """lite's aggregator is shown 2 answers, article's 3: the answer itself says which arm wrote it."""
    content = answer["content"]
    return "lite" if "[saw 2 answers]" in content else "article" if "[saw 3 answers]" in content else "?"


async def test_an_experiment_alternates_arms_shows_the_standing_and_stop_adopts(
        discord: FakeDiscord, bot: RunningBot) -> None:
    refused = await discord.slash(discord.general, discord.bob, "experiment", "start",
                                  options={"a": "lite", "b": "article"})
    assert "Only channel admins" in await replied(discord, refused)
    started = await discord.slash(discord.general, discord.alice, "experiment", "start",
                                  options={"a": "lite", "b": "article"})
    assert "Experiment started" in await replied(discord, started)

    arms = []
    answers = []
    for i in range(4):
        _, answer = await ask(discord, bot, f"question {i}")
        arms.append(_aggregator_saw(answer))
        answers.append(answer)
    assert arms == ["lite", "article", "lite", "article"]

    up = [b["custom_id"] for b in discord.buttons(answers[0]) if b["custom_id"].startswith("moa:vote:up:")]
    await replied(discord, await discord.press(answers[0]["id"], discord.bob, up[0]))
    standing = await replied(discord, await discord.slash(discord.general, discord.bob, "experiment", "show"))
    assert "A `lite`**: 2 answers · 👍 1 / 👎 0" in standing and "B `article`**: 2 answers · 👍 0 / 👎 0" in standing
    assert "Not clear yet" in standing

    stopped = await discord.slash(discord.general, discord.alice, "experiment", "stop", options={"adopt": "A"})
    assert "now uses A `lite`" in await replied(discord, stopped)
    _, after = await ask(discord, bot, "after the experiment")
    assert _aggregator_saw(after) == "lite"  # adopted: the channel's setup now
