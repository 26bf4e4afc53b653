"""👍/👎 on Slack answers, `/moa usage` and daily budgets — through bolt, the fake Slack and the fake Groq."""

from __future__ import annotations

from tests.adapters.slack.conftest import SlackWorld
from tests.fakes.slack_api import FakeMessage, FakeSlack


async def _answer(world: SlackWorld, question: str, *, user: str = "U0ALICE") -> FakeMessage:
    ts = await world.send.mention(question, user=user)

    def done(slack: FakeSlack) -> bool:
        msgs = slack.thread("C0GENERAL", ts)
        return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming

    await world.slack.wait_for(done)
    return world.slack.thread("C0GENERAL", ts)[-1]


async def _told(world: SlackWorld, question: str, *, user: str) -> str:
    """A mention that gets a sentence instead of an answer; returns the sentence."""
    ts = await world.send.mention(question, user=user)
    await world.slack.wait_for(lambda s: bool(s.thread("C0GENERAL", ts)))
    [message] = world.slack.thread("C0GENERAL", ts)
    return message.markdown


async def _command(world: SlackWorld, text: str, *, user: str) -> str:
    name = f"cmd{len(world.slack.responses)}"
    assert await world.send.command(text, user=user, response=name) == 200
    await world.slack.wait_for(lambda s: any(r["_url"] == name for r in s.responses))
    return "\n".join(r["text"] for r in world.slack.responses if r["_url"] == name)


async def _vote(world: SlackWorld, answer: FakeMessage, up: bool, user: str) -> str:
    name = f"vote{len(world.slack.responses)}"
    assert await world.send.vote(answer, up, user=user, response=name) == 200
    await world.slack.wait_for(lambda s: any(r["_url"] == name for r in s.responses))
    [reply] = [r for r in world.slack.responses if r["_url"] == name]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    return str(reply["text"])


def _usage_line(text: str, start: str) -> list[str]:
    [line] = [line for line in text.splitlines() if line.startswith(start)]
    return line.split()


async def test_every_answer_has_feedback_buttons_and_a_changed_vote_replaces_the_first(world: SlackWorld) -> None:
    answer = await _answer(world, "is 9.11 larger than 9.9?")
    assert answer.feedback is not None and answer.feedback["positive_button"]["text"]["text"] == "👍"

    first = await _vote(world, answer, True, "U0BOB")
    changed = await _vote(world, answer, False, "U0BOB")

    assert first.startswith("Thanks — your 👍 is counted")
    assert changed == "Changed your vote on this answer from 👍 to 👎."
    usage = await _command(world, "usage", user="U0CAROL")
    assert _usage_line(usage, "👍/👎")[1:] == ["0/1", "0/1", "0/1"]
    assert _usage_line(usage, "article")[-2] == "0/1"  # counted against the config that answered


async def test_a_workspace_without_feedback_buttons_gets_plain_ones_that_count_the_same(world: SlackWorld) -> None:
    world.slack.feedback_buttons = False
    answer = await _answer(world, "first")
    assert answer.feedback is None
    assert [b["text"]["text"] for b in answer.buttons] == ["Show layers", "👍", "👎"]

    assert (await _vote(world, answer, True, "U0BOB")).startswith("Thanks — your 👍")
    refused_before = sum(c.error == "invalid_blocks" for c in world.slack.calls)
    second = await _answer(world, "second")
    assert [b["text"]["text"] for b in second.buttons] == ["Show layers", "👍", "👎"]
    assert sum(c.error == "invalid_blocks" for c in world.slack.calls) == refused_before  # learnt once


async def test_usage_counts_answers_and_model_calls(world: SlackWorld) -> None:
    await _answer(world, "one")
    await _answer(world, "two", user="U0BOB")

    usage = await _command(world, "usage", user="U0BOB")

    assert _usage_line(usage, "answers") == ["answers", "2", "2", "2"]
    assert _usage_line(usage, "model calls") == ["model", "calls", "20", "20", "20"]  # 2 × (3 × 3 + 1)
    assert _usage_line(usage, "failures") == ["failures", "0", "0", "0"]
    assert _usage_line(usage, "article")[1] == "2"


async def test_a_member_over_budget_is_told_without_a_model_call_and_others_still_get_answers(
        world: SlackWorld) -> None:
    reply = await _command(world, "budget answers 1", user="U0LISTED")
    assert "Each member may get 1 answer a day in this channel." in reply
    await _answer(world, "my one question")
    calls = len(world.groq.calls)

    told = await _told(world, "and another", user="U0ALICE")

    assert "used 1 of your 1 answer for today" in told and "00:00 UTC" in told
    assert len(world.groq.calls) == calls  # no model call for it
    await _answer(world, "bob's turn", user="U0BOB")
    assert len(world.groq.calls) == calls + 10

    await world.restart()  # the budget and today's count are stored, not remembered
    told = await _told(world, "after a restart", user="U0ALICE")
    assert "used 1 of your 1 answer for today" in told
    assert len(world.groq.calls) == calls + 10


async def test_budgets_apply_to_admins_and_a_token_budget_stops_the_channel(world: SlackWorld) -> None:
    await _command(world, "budget tokens 10", user="U0LISTED")
    await _answer(world, "this one starts within budget", user="U0LISTED")  # and finishes beyond it
    calls = len(world.groq.calls)

    told = await _told(world, "one more", user="U0LISTED")

    assert "This channel has used" in told and "of its 10 tokens for today" in told
    assert len(world.groq.calls) == calls
    budget = await _command(world, "budget", user="U0BOB")
    assert "• Tokens for the channel: 10 (this channel's)" in budget
