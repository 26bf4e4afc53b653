"""Early exit and early answer switched on in Slack: fewer calls when agents agree, the answer begun early."""

from __future__ import annotations

import re

from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import answered
from tests.fakes.groq_server import FakeCall

AGGREGATOR = "openai/gpt-oss-120b"


async def _command(world: SlackWorld, text: str, user: str) -> str:
    name = f"cmd{len(world.slack.responses)}"
    assert await world.send.command(text, user=user, response=name) == 200
    await world.slack.wait_for(lambda s: any(r["_url"] == name for r in s.responses))
    return "\n".join(r["text"] for r in world.slack.responses if r["_url"] == name)


async def test_a_member_cannot_switch_and_an_admins_early_exit_answers_in_four_calls(world: SlackWorld) -> None:
    world.slack.admins.add("U0ADMIN")
    assert "Only channel admins" in await _command(world, "early-exit on", user="U0ALICE")
    assert "Early-exit: on" in await _command(world, "early-exit on", user="U0ADMIN")
    world.groq.reply = lambda call: "The answer is 9.9." if call.model != AGGREGATOR else "9.9 is larger."

    ts = await world.send.mention("9.11 or 9.9?")
    await world.slack.wait_for(answered("C0GENERAL", ts))
    assert len(world.groq.calls) == 4
    [answer] = world.slack.thread("C0GENERAL", ts)
    notes = [el["text"] for b in answer.blocks if b.get("type") == "context" for el in b.get("elements", [])]
    assert notes == ["layers 2–3 skipped: 3 of 3 agents agreed"]


def _layer_reply(call: FakeCall) -> str:
    seen = sorted({int(n) for n in re.findall(r"Layer-(\d) view", call.system)})
    if call.model == AGGREGATOR:
        return "Here is the verdict. It rests on " + ", ".join(f"layer {n}" for n in seen)
    return f"Layer-{max(seen, default=0) + 1} view of {call.system[:12]}"


async def test_an_early_answer_arrives_whole_with_the_last_layers_content(world: SlackWorld) -> None:
    world.slack.admins.add("U0ADMIN")
    assert "Early-answer: on" in await _command(world, "early-answer on", user="U0ADMIN")
    world.groq.reply = _layer_reply
    world.groq.latency_by_model = {"openai/gpt-oss-20b": 0.15, "qwen/qwen3.8-27b": 0.15}

    ts = await world.send.mention("which is larger?")
    await world.slack.wait_for(answered("C0GENERAL", ts), timeout=10)
    [answer] = world.slack.thread("C0GENERAL", ts)
    assert answer.markdown.startswith("Here is the verdict. It rests on layer 3")
    assert len(world.groq.calls_to(AGGREGATOR)) == 2  # the opening, then its continuation


def _long_layer_reply(call: FakeCall) -> str:
    """A proposer writes a long answer; the aggregator opens with a sentence, then names what it saw."""
    if call.model == AGGREGATOR:
        return _layer_reply(call)
    return _layer_reply(call) + " and then it compares the digits one place at a time" * 3


async def test_the_opening_shows_in_slack_while_layer_1_is_still_being_written(world: SlackWorld) -> None:
    world.slack.admins.add("U0ADMIN")
    assert "Early-answer: on" in await _command(world, "early-answer on", user="U0ADMIN")
    world.groq.reply = _long_layer_reply
    world.groq.stall({"openai/gpt-oss-20b", "qwen/qwen3.8-27b"}, after_words=12)  # layer 1 stops mid-answer

    ts = await world.send.mention("which is larger?")
    await world.slack.wait_for(lambda s: "Here is the verdict." in s.thread_answer("C0GENERAL", ts), timeout=10)
    layer_one = [c for c in world.groq.running if c.model != AGGREGATOR]
    assert len(layer_one) == 3 and all(c.seen_answers == 0 for c in layer_one)  # still writing
    world.groq.unstall()

    await world.slack.wait_for(answered("C0GENERAL", ts), timeout=10)
    [answer] = world.slack.thread("C0GENERAL", ts)
    assert answer.markdown.startswith("Here is the verdict. It rests on layer 3")
    notes = [el["text"] for b in answer.blocks if b.get("type") == "context" for el in b.get("elements", [])]
    assert any("The opening words came early, from layer 1's answers while they were still being written; "
               "the rest reflects layer 3's answers." in note for note in notes)
