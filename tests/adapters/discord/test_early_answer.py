"""Early answer on Discord, through real discord.py against the fake Discord: the answer's opening shows in
the thread while layer 1 is still being written, and the answer says its opening came early."""

from __future__ import annotations

from tests.adapters.discord.conftest import RunningBot
from tests.adapters.discord.helpers import AGGREGATOR, answers, replied
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeCall, FakeGroq


def reply(call: FakeCall) -> str:
    """Proposers write long answers; the aggregator opens with a sentence, then says whether it saw layer 3."""
    if call.model == AGGREGATOR:
        return "Here is the verdict. It rests on " + ("layer 3" if "Layer-3" in call.system else "early views")
    layer = 1 + max((n for n in (1, 2) if f"Layer-{n}" in call.system), default=0)
    return f"Layer-{layer} view: " + "it compares the digits one place at a time and then " * 4


async def test_the_opening_shows_in_the_thread_while_layer_1_is_still_being_written(
        discord: FakeDiscord, fake_groq: FakeGroq, bot: RunningBot) -> None:
    changed = await discord.slash(discord.general, discord.alice, "early-answer", options={"switch": "on"})
    assert "Early-answer: on" in await replied(discord, changed)
    fake_groq.reply = reply
    fake_groq.stall({"openai/gpt-oss-20b", "qwen/qwen3.8-27b"}, after_words=12)  # layer 1 stops mid-answer

    question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} 9.11 or 9.9?")
    await discord.wait_for(lambda f: any("Here is the verdict." in m["content"]
                                         for m in f.bot_messages(question["id"])), timeout=10)
    layer_one = [c for c in fake_groq.running if c.model != AGGREGATOR]
    assert len(layer_one) == 3 and all(c.seen_answers == 0 for c in layer_one)  # still writing
    fake_groq.unstall()

    [answer] = await discord.wait_for(lambda f: answers(f, question["id"]), timeout=10)
    assert answer["content"].startswith("Here is the verdict. It rests on layer 3")
    assert "The opening words came early, from layer 1's answers while they were still being written" \
        in answer["content"]
