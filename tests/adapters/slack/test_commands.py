"""`/moa` in Slack: the shared grammar, per-channel config, admin checks, ephemeral replies."""

from __future__ import annotations

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
