"""`/moa` in Slack: the shared grammar, per-channel config, admin checks, ephemeral replies."""

from __future__ import annotations

import json

from storage.models import ChannelKey
from tests.adapters.slack.conftest import SlackWorld
from tests.fakes.slack_api import FakeSlack


async def _command(world: SlackWorld, text: str, *, user: str, channel: str = "C0GENERAL") -> str:
    name = f"cmd{len(world.slack.responses)}"
    assert await world.send.command(text, user=user, channel=channel, response=name) == 200
    await world.slack.wait_for(lambda s: any(r["_url"] == name for r in s.responses))
    replies = [r for r in world.slack.responses if r["_url"] == name]
    assert all(r["response_type"] == "ephemeral" for r in replies)
    return "\n".join(r["text"] for r in replies)


async def _calls_for_answer(world: SlackWorld, channel: str) -> int:
    before = len(world.groq.calls)
    ts = await world.send.mention("count the calls", channel=channel)

    def done(slack: FakeSlack) -> bool:
        msgs = slack.thread(channel, ts)
        return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming

    await world.slack.wait_for(done)
    return len(world.groq.calls) - before


async def test_layers_changed_in_one_channel_leave_another_alone(world: SlackWorld) -> None:
    world.slack.admins.add("U0ADMIN")
    for channel in ("C0GENERAL", "C0RANDOM"):
        await _command(world, "preset lite", user="U0ADMIN", channel=channel)

    reply = await _command(world, "layers 3", user="U0ADMIN", channel="C0GENERAL")

    assert "3" in reply
    assert await _calls_for_answer(world, "C0GENERAL") == 3 * 2 + 1  # 3 layers of the lite preset's 2 agents
    assert await _calls_for_answer(world, "C0RANDOM") == 2 + 1  # still lite: 1 layer


async def test_non_admin_cannot_change_layers(world: SlackWorld) -> None:
    reply = await _command(world, "layers 2", user="U0BOB")

    assert "admin" in reply.lower()
    assert [c.args["user"] for c in world.slack.calls_to("users.info")] == ["U0BOB"]
    assert await _calls_for_answer(world, "C0GENERAL") == 3 * 3 + 1  # the default, unchanged


async def test_allow_listed_user_can_change_without_being_workspace_admin(world: SlackWorld) -> None:
    await _command(world, "layers 1", user="U0LISTED")  # in SLACK_ADMIN_USERS
    assert await _calls_for_answer(world, "C0GENERAL") == 3 + 1


async def test_owner_can_change_and_show_needs_no_admin(world: SlackWorld) -> None:
    world.slack.owners.add("U0OWNER")
    await _command(world, "layers 2", user="U0OWNER")
    shown = await _command(world, "show", user="U0BOB")
    assert "Layers: 2" in shown
    assert [c.args["user"] for c in world.slack.calls_to("users.info")] == ["U0OWNER"]


async def test_long_command_reply_arrives_whole(world: SlackWorld) -> None:
    reply = await _command(world, "help", user="U0BOB")
    assert "layers N" in reply and "forget" in reply


async def test_escaped_command_text_is_stored_as_typed(world: SlackWorld) -> None:
    world.slack.admins.add("U0ADMIN")
    # Slack sends `<`, `>` and `&` in command text as entities.
    await _command(world, "agents set layer_agent_1 prompt Answer in &lt;100 words &amp; cite {helper_response}",
                   user="U0ADMIN")
    shown = await _command(world, "export", user="U0ADMIN")
    assert "Answer in <100 words & cite {helper_response}" in shown


def _big_config(prompt_chars: int) -> str:
    """Six agents with long prompts: an export far over what five Slack replies can carry."""
    agents = {f"agent_{i}": {"system_prompt": f"Agent {i}: " + "be thorough. " * (prompt_chars // 12)
                             + "{helper_response}", "model_name": "openai/gpt-oss-20b"} for i in range(1, 7)}
    return json.dumps({"main_model": "openai/gpt-oss-120b", "cycles": 1, "layer_agent_config": agents})


async def test_a_large_export_arrives_whole_beyond_slacks_five_replies_per_command(world: SlackWorld) -> None:
    assert world.service is not None
    await world.service.db.configs.put(ChannelKey("slack", world.slack.team_id, "C0GENERAL"),
                                       _big_config(15_000), "U0ADMIN", "import")
    assert await world.send.command("export", channel="C0GENERAL", response="export") == 200

    def shown(slack: FakeSlack) -> str:
        return "".join(b["text"] for e in slack.ephemerals for b in e["blocks"])

    await world.slack.wait_for(lambda s: shown(s).count("thorough.") == 6 * (15_000 // 12), timeout=10)  # all
    assert len(world.slack.ephemerals) > 5
    assert [r for r in world.slack.responses if r["_url"] == "export"] == []


async def test_a_large_export_where_the_bot_cannot_post_says_what_was_left_out(world: SlackWorld) -> None:
    assert world.service is not None
    await world.service.db.configs.put(ChannelKey("slack", world.slack.team_id, "C0GENERAL"),
                                       _big_config(15_000), "U0ADMIN", "import")
    world.slack.fail("chat.postEphemeral", "not_in_channel")
    assert await world.send.command("export", channel="C0GENERAL", response="export") == 200

    replies = await world.slack.wait_for(
        lambda s: len(got := [r for r in s.responses if r["_url"] == "export"]) >= 5 and got, timeout=10)
    assert len(replies) == 5  # Slack's limit, kept
    assert "only the first 4 are shown" in replies[-1]["text"] and "/invite" in replies[-1]["text"]
