"""Mentions, follow-ups and DMs: what people see in the thread."""

from __future__ import annotations

import json

from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import answered
from tests.edit_pacing import assert_paced
from tests.fakes.slack_api import FakeMessage, FakeSlack


async def test_mention_gets_final_answer_in_its_thread_with_show_layers_button(world: SlackWorld) -> None:
    ts = await world.send.mention("is 9.11 or 9.9 larger?", channel="C0GENERAL")

    await world.slack.wait_for(answered("C0GENERAL", ts))
    messages = world.slack.thread("C0GENERAL", ts)
    assert len(messages) == 1  # the status became the answer
    answer = messages[0]
    assert "says: is 9.11 or 9.9 larger?" in answer.markdown
    assert answer.buttons[0]["text"]["text"] == "Show layers"
    assert world.slack.bot_messages("C0GENERAL") == messages  # nothing outside the thread


async def test_status_appears_before_the_answer_and_names_agents_not_answers(world: SlackWorld) -> None:
    world.groq.latency = 0.4
    ts = await world.send.mention("what is MoA?")

    await world.slack.wait_for(lambda s: bool(s.thread("C0GENERAL", ts)))
    status = world.slack.thread("C0GENERAL", ts)[0]
    # at once: the status is up before any model has answered (each takes 0.4 s here)
    await world.groq.wait_for(lambda g: any(c.ended is not None for c in g.calls))
    assert status.posted_at < min(c.ended for c in world.groq.calls if c.ended is not None)
    assert status.streaming and status.tasks, "native progress: one task per agent"
    titles = " ".join(t["title"] for t in status.tasks.values())
    assert "Layer 1/" in titles and "(" in titles  # layer, agent and model named
    assert "says:" not in status.markdown  # no proposer answer in the progress
    await world.slack.wait_for(answered("C0GENERAL", ts))


async def test_without_native_streaming_status_is_edited_into_the_answer(world: SlackWorld) -> None:
    world.slack.streaming = False
    world.groq.latency = 0.3
    ts = await world.send.mention("hello there")

    await world.slack.wait_for(lambda s: bool(s.thread("C0GENERAL", ts)))
    assert "Layer 1/" in world.slack.thread("C0GENERAL", ts)[0].markdown
    await world.slack.wait_for(answered("C0GENERAL", ts))
    [answer] = world.slack.thread("C0GENERAL", ts)
    assert "says: hello there" in answer.markdown and answer.edits >= 1
    [status] = [c.at for c in world.slack.calls_to("chat.postMessage")]
    updates = [c.at for c in world.slack.calls_to("chat.update")]
    # progress edits (all but the final answer) never come faster than one per second
    assert_paced(status, updates[:-1], interval=1.0)


async def test_follow_up_in_answered_thread_continues_the_conversation(world: SlackWorld) -> None:
    ts = await world.send.mention("my name is Ada")
    await world.slack.wait_for(answered("C0GENERAL", ts))
    groq_calls = len(world.groq.calls)

    await world.send.message("what is my name?", thread_ts=ts)

    await world.slack.wait_for(lambda s: "says: what is my name?" in s.thread_answer("C0GENERAL", ts))
    later = world.groq.calls[groq_calls:]
    assert any("my name is Ada" in str(c.messages) for c in later), "history from the first turn"


async def test_plain_message_outside_answered_threads_is_ignored(world: SlackWorld) -> None:
    await world.send.message("just chatting", thread_ts="1599999999.000001")
    await world.send.message("top level chatter")
    ts = await world.send.mention("ping")  # a later mention proves the earlier ones were processed
    await world.slack.wait_for(answered("C0GENERAL", ts))
    assert all(c.question in ("ping",) for c in world.groq.calls)


async def test_bot_ignores_its_own_messages_and_edits(world: SlackWorld) -> None:
    ts = await world.send.mention("first")
    await world.slack.wait_for(answered("C0GENERAL", ts))
    calls = len(world.groq.calls)
    answer = world.slack.thread("C0GENERAL", ts)[0]

    # Slack echoes the bot's own answer and edits back as message events
    await world.send.message("echo", user=world.slack.bot_user_id, thread_ts=ts, bot_id=world.slack.bot_id)
    await world.send.message("", thread_ts=ts, subtype="message_changed",
                             message={"text": "edited", "ts": answer.ts})
    await world.send.message("", thread_ts=ts, subtype="bot_message", bot_id="BOTHER")
    follow = await world.send.mention("second", thread_ts=ts)
    await world.slack.wait_for(lambda s: "says: second" in s.thread_answer("C0GENERAL", ts))
    questions = [c.question for c in world.groq.calls[calls:]]
    assert set(questions) == {"second"}
    assert follow


async def test_direct_message_is_answered(world: SlackWorld) -> None:
    ts = await world.send.message("hi in private", channel="D0ALICE", channel_type="im")
    await world.slack.wait_for(answered("D0ALICE", ts))
    assert "says: hi in private" in world.slack.thread_answer("D0ALICE", ts)


async def test_failing_proposer_still_gives_an_answer(world: SlackWorld) -> None:
    world.groq.fail("qwen/qwen3.8-27b", 413, times=20)
    ts = await world.send.mention("are you robust?")
    await world.slack.wait_for(answered("C0GENERAL", ts), timeout=5)
    assert "says: are you robust?" in world.slack.thread_answer("C0GENERAL", ts)
    assert any(c.status == 413 for c in world.groq.calls_to("qwen/qwen3.8-27b"))


async def test_all_models_failing_gives_a_clear_message_not_silence(world: SlackWorld) -> None:
    world.groq.fail("*", 413, times=100)
    ts = await world.send.mention("anyone there?")

    def failed(slack: FakeSlack) -> bool:
        msgs = slack.thread("C0GENERAL", ts)
        return bool(msgs) and not msgs[-1].streaming and "failed" in msgs[-1].markdown

    await world.slack.wait_for(failed, timeout=5)
    assert "says:" not in world.slack.thread_answer("C0GENERAL", ts)


async def test_mention_syntax_echoed_from_a_question_pings_nobody(world: SlackWorld) -> None:
    for streaming in (True, False):
        world.slack.streaming = streaming
        before = len(world.slack.calls)
        ts = await world.send.mention("ping <!channel>, <!here> and <@U0BOB> please")

        await world.slack.wait_for(answered("C0GENERAL", ts))
        answer = world.slack.thread("C0GENERAL", ts)[-1]
        assert "ping" in answer.markdown and "channel" in answer.markdown  # the words are still shown
        await world.send.react("C0GENERAL", answer.ts)  # the layer view quotes the question too
        await world.slack.wait_for(
            lambda s, ts=ts: any("Intermediate" in m.markdown for m in s.thread("C0GENERAL", ts)))
        sent = json.dumps([c.args for c in world.slack.calls[before:]], ensure_ascii=False)
        for ping in ("<!channel>", "<!here>", "<@U0BOB>"):
            assert ping not in sent, f"{ping} reached Slack (streaming={streaming})"


def _context_lines(message: FakeMessage) -> list[str]:
    return [el["text"] for b in message.blocks if b.get("type") == "context" for el in b.get("elements", [])]


async def test_the_answer_says_small_how_far_the_agents_agreed_and_nothing_when_they_did_not(
        world: SlackWorld) -> None:
    aggregator = "openai/gpt-oss-120b"
    world.groq.reply = lambda call: "The answer is 9.9." if call.model != aggregator else "9.9 is larger."
    ts = await world.send.mention("9.11 or 9.9?")
    await world.slack.wait_for(answered("C0GENERAL", ts))
    [answer] = world.slack.thread("C0GENERAL", ts)
    assert _context_lines(answer) == ["3 of 3 agents agreed"]

    views = {"Think": "Rivers run to the sea.", "Respond": "Mountains hold the snow.", "You are": "Stars burn."}
    world.groq.reply = lambda call: "No verdict." if call.model == aggregator else next(
        view for start, view in views.items() if call.system.startswith(start))
    ts = await world.send.mention("say anything")
    await world.slack.wait_for(answered("C0GENERAL", ts))
    [answer] = world.slack.thread("C0GENERAL", ts)
    assert "No verdict." in answer.markdown and _context_lines(answer) == []  # nothing claims agreement
