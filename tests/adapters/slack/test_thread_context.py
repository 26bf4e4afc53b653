"""Tagged into a thread someone else started: its earlier messages reach the models, from that thread only."""

from __future__ import annotations

from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import answered


def everything_sent(world: SlackWorld) -> str:
    return "\n".join(str(m.get("content")) for call in world.groq.calls for m in call.messages)


async def test_a_threads_earlier_messages_and_files_reach_the_models_with_their_authors(world: SlackWorld) -> None:
    slack = world.slack
    root = slack.said("the deploy failed at 3am", channel="C0GENERAL", user="U0BOB")
    trace = slack.add_file("trace.log", "text/plain", b"OOMKilled: container api exceeded 512Mi")
    slack.said("here is the trace", channel="C0GENERAL", user="U0CAROL", thread_ts=root, files=[trace])
    ts = await world.send.mention("why did it fail?", thread_ts=root)

    await slack.wait_for(answered("C0GENERAL", root), timeout=10)
    assert world.groq.calls
    for call in world.groq.calls:
        sent = "\n".join(str(m["content"]) for m in call.messages)
        assert "u0bob: the deploy failed at 3am" in sent
        assert "u0carol: here is the trace" in sent and "OOMKilled: container api exceeded 512Mi" in sent
        assert call.question == "why did it fail?"
    [replies] = slack.calls_to("conversations.replies")
    assert (replies.args["channel"], replies.args["ts"]) == ("C0GENERAL", root)
    assert ts != root


async def test_a_thread_in_another_channel_never_reaches_the_models(world: SlackWorld) -> None:
    secret = world.slack.said("the merger closes on Friday", channel="C0SECRET", user="U0BOB")
    # A mention in #general naming the secret thread's ts: only #general's thread may be read.
    await world.send.mention("what was decided here?", channel="C0GENERAL", thread_ts=secret)

    await world.slack.wait_for(answered("C0GENERAL", secret), timeout=10)
    assert world.groq.calls
    assert "merger" not in everything_sent(world)
    assert [c.args["channel"] for c in world.slack.calls_to("conversations.replies")] == ["C0GENERAL"]


async def test_a_follow_up_uses_the_stored_history_without_reading_the_thread_again(world: SlackWorld) -> None:
    root = world.slack.said("lunch at noon?", channel="C0GENERAL", user="U0BOB")
    await world.send.mention("where should we go?", thread_ts=root)
    await world.slack.wait_for(answered("C0GENERAL", root), timeout=10)

    await world.send.mention("and after that?", thread_ts=root)
    await world.slack.wait_for(lambda s: len([m for m in s.thread("C0GENERAL", root) if m.buttons]) == 2,
                               timeout=10)
    assert len(world.slack.calls_to("conversations.replies")) == 1


async def test_when_the_thread_cannot_be_read_the_question_is_answered_alone_and_told(world: SlackWorld) -> None:
    root = world.slack.said("budget is 40k", channel="C0GENERAL", user="U0BOB")
    world.slack.fail("conversations.replies", "internal_error")
    await world.send.mention("is that enough?", thread_ts=root)

    await world.slack.wait_for(answered("C0GENERAL", root), timeout=10)
    answer = "\n".join(m.visible for m in world.slack.thread("C0GENERAL", root))
    assert "says: is that enough?" in answer
    assert "I could not read this thread's earlier messages (SlackApiError)" in answer
