"""`/moa experiment` on Slack, through bolt: admins only, answers alternate, the standing, stop."""

from __future__ import annotations

from tests.adapters.slack.conftest import SlackWorld
from tests.fakes.slack_api import FakeMessage, FakeSlack


async def _command(world: SlackWorld, text: str, *, user: str) -> str:
    name = f"cmd{len(world.slack.responses)}"
    assert await world.send.command(text, user=user, response=name) == 200
    await world.slack.wait_for(lambda s: any(r["_url"] == name for r in s.responses))
    return "\n".join(r["text"] for r in world.slack.responses if r["_url"] == name)


async def _answer(world: SlackWorld, question: str) -> FakeMessage:
    ts = await world.send.mention(question)

    def done(slack: FakeSlack) -> bool:
        msgs = slack.thread("C0GENERAL", ts)
        return bool(msgs) and bool(msgs[-1].buttons) and not msgs[-1].streaming

    await world.slack.wait_for(done)
    return world.slack.thread("C0GENERAL", ts)[-1]


def _arm(answer: FakeMessage) -> str:
    """lite's aggregator is shown 2 answers, self-moa's 4: the answer itself says which arm wrote it."""
    text = answer.markdown
    return "lite" if "[saw 2 answers]" in text else "self-moa" if "[saw 4 answers]" in text else "?"


async def test_an_experiment_alternates_arms_shows_the_standing_and_stop_keeps_or_adopts(world: SlackWorld) -> None:
    world.slack.admins.add("U0ADMIN")  # users.info says so
    assert "Only channel admins" in await _command(world, "experiment lite self-moa", user="U0BOB")
    unknown = await _command(world, "experiment lite turbo", user="U0ADMIN")
    assert "There is no setup called `turbo`" in unknown and "Nothing changed." in unknown
    assert "Experiment started" in await _command(world, "experiment lite self-moa", user="U0ADMIN")

    answers = [await _answer(world, f"question {i}") for i in range(4)]
    assert [_arm(a) for a in answers] == ["lite", "self-moa", "lite", "self-moa"]

    name = f"vote{len(world.slack.responses)}"
    assert await world.send.vote(answers[1], False, user="U0BOB", response=name) == 200
    await world.slack.wait_for(lambda s: any(r["_url"] == name for r in s.responses))
    standing = await _command(world, "experiment", user="U0BOB")
    assert "A `lite`*: 2 answers · 👍 0 / 👎 0" in standing and "B `self-moa`*: 2 answers · 👍 0 / 👎 1" in standing
    assert "median" in standing and "cost $" in standing and "Not clear yet" in standing

    assert "Only channel admins" in await _command(world, "experiment stop B", user="U0BOB")
    stopped = await _command(world, "experiment stop", user="U0ADMIN")
    assert "setup is unchanged" in stopped
    assert _arm(await _answer(world, "after the experiment")) == "?"  # the channel's own setup: article (3)
    assert "No experiment is running here" in await _command(world, "experiment", user="U0BOB")
