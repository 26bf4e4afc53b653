"""Slack's assistant pane through bolt's Assistant middleware: prompts, status, title, the answer in its thread."""

from __future__ import annotations

import asyncio
from typing import Any

from adapters.slack.assistant import EXAMPLE_PROMPTS, THINKING
from bot.settings import Settings
from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import answered

PANE = "D0PANE"


async def open_pane(world: SlackWorld) -> str:
    thread = world.send.next_ts()
    event = {"type": "assistant_thread_started", "event_ts": thread,
             "assistant_thread": {"user_id": "U0ALICE", "channel_id": PANE, "thread_ts": thread,
                                  "context": {"channel_id": "C0GENERAL", "team_id": world.slack.team_id}}}
    assert await world.send.event(event) == 200
    return thread


async def ask_in_pane(world: SlackWorld, thread: str, text: str) -> str:
    return await world.send.message(text, channel=PANE, channel_type="im", thread_ts=thread)


def status_calls(world: SlackWorld) -> list[dict[str, Any]]:
    return [c.args for c in world.slack.calls_to("assistant.threads.setStatus")]


async def test_opening_the_pane_suggests_prompts_says_where_settings_live_and_keeps_the_context(
        world: SlackWorld) -> None:
    thread = await open_pane(world)

    [prompts] = await world.slack.wait_for(lambda s: s.calls_to("assistant.threads.setSuggestedPrompts"))
    assert [p["title"] for p in prompts.args["prompts"]] == [t for t, _ in EXAMPLE_PROMPTS]
    assert (prompts.args["channel_id"], prompts.args["thread_ts"]) == (PANE, thread)
    [greeting] = await world.slack.wait_for(lambda s: s.thread(PANE, thread))
    assert "`/moa` doesn't work in this pane" in greeting.markdown and "`/moa show`" in greeting.markdown
    assert world.service is not None
    stored = await world.service.db.assistant_threads.find("", PANE, thread)
    assert stored == {"channel_id": "C0GENERAL", "team_id": world.slack.team_id}


async def test_configured_prompts_replace_the_examples(world: SlackWorld) -> None:
    world.env["MOA_ASSISTANT_PROMPTS"] = "Summarise: Summarise this thread; Translate: Translate to French"
    world.settings = Settings.load(env=world.env)
    await world.restart()
    await open_pane(world)

    [prompts] = await world.slack.wait_for(lambda s: s.calls_to("assistant.threads.setSuggestedPrompts"))
    assert prompts.args["prompts"] == [{"title": "Summarise", "message": "Summarise this thread"},
                                       {"title": "Translate", "message": "Translate to French"}]


async def test_a_question_in_the_pane_is_titled_shows_a_status_and_is_answered_in_its_thread(
        world: SlackWorld) -> None:
    world.groq.latency = 0.3
    thread = await open_pane(world)
    await world.slack.wait_for(lambda s: s.thread(PANE, thread))
    await ask_in_pane(world, thread, "what is a mixture of agents?")

    await world.slack.wait_for(lambda s: any(a.get("status") == THINKING for a in status_calls(world)))
    assert not any(c.ended for c in world.groq.calls)  # the status came before any model answered
    await world.slack.wait_for(answered(PANE, thread), timeout=10)
    answer = world.slack.thread(PANE, thread)[-1]
    assert "says: what is a mixture of agents?" in answer.markdown
    [title] = world.slack.calls_to("assistant.threads.setTitle")
    assert title.args["title"] == "what is a mixture of agents?"
    await world.slack.wait_for(lambda s: status_calls(world)[-1].get("status") == "")  # cleared at the end


async def test_a_long_answers_status_is_set_again_before_it_expires(world: SlackWorld) -> None:
    world.env["MOA_ASSISTANT_STATUS_REFRESH"] = "0.1"
    world.settings = Settings.load(env=world.env)
    await world.restart()
    world.groq.latency = 0.4
    thread = await open_pane(world)
    await ask_in_pane(world, thread, "take your time")

    await world.slack.wait_for(answered(PANE, thread), timeout=10)
    thinking = [a for a in status_calls(world) if a.get("status") == THINKING]
    assert len(thinking) >= 3  # set at the start and refreshed while the layers ran
    assert len(world.slack.calls_to("assistant.threads.setTitle")) == 1


async def test_moving_to_another_channel_updates_the_stored_context(world: SlackWorld) -> None:
    thread = await open_pane(world)
    await world.slack.wait_for(lambda s: s.thread(PANE, thread))
    event = {"type": "assistant_thread_context_changed", "event_ts": world.send.next_ts(),
             "assistant_thread": {"user_id": "U0ALICE", "channel_id": PANE, "thread_ts": thread,
                                  "context": {"channel_id": "C0RANDOM", "team_id": world.slack.team_id}}}
    assert await world.send.event(event) == 200

    assert world.service is not None
    db = world.service.db
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while (stored := await db.assistant_threads.find("", PANE, thread)) != {"channel_id": "C0RANDOM",
                                                                            "team_id": world.slack.team_id}:
        assert loop.time() < deadline, f"context still {stored}"
        await asyncio.sleep(0.02)  # the listener runs after bolt's ack; nothing to wait on but the database


async def test_the_pane_sends_the_models_the_question_as_a_channel_mention_does(world: SlackWorld) -> None:
    thread = await open_pane(world)
    await world.slack.wait_for(lambda s: s.thread(PANE, thread))
    await ask_in_pane(world, thread, "Is 3 &lt; 5 &amp;&amp; 5 &gt; 2? <@UBOT>")
    await world.slack.wait_for(answered(PANE, thread), timeout=10)
    in_pane = {call.question for call in world.groq.calls}

    world.groq.calls.clear()
    ts = await world.send.mention("Is 3 &lt; 5 &amp;&amp; 5 &gt; 2?")
    await world.slack.wait_for(answered("C0GENERAL", ts), timeout=10)
    assert in_pane == {call.question for call in world.groq.calls} == {"Is 3 < 5 && 5 > 2?"}
