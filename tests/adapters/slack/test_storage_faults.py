"""Slack with a database that fails mid-answer: the answer still arrives, its native stream is stopped,
and it says what could not be kept."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.slack.conftest import SlackWorld
from tests.adapters.slack.helpers import answered
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack
from tests.faults import SmallDisk, lock_held


async def test_the_disk_filling_mid_answer_still_delivers_it_with_its_stream_stopped(
        fake_groq: FakeGroq, tmp_path: Path) -> None:
    fake_groq.latency = 0.2
    with SmallDisk(tmp_path / "disk") as disk:
        async with FakeSlack() as slack:
            world = SlackWorld(fake_groq, slack, disk.path / "moa.db")
            await world.start()
            try:
                ts = await world.send.mention("will the disk hold?")
                await fake_groq.wait_for(lambda f: len(f.calls) >= 1)
                disk.fill()
                await slack.wait_for(lambda s: s.thread("C0GENERAL", ts) and not s.thread("C0GENERAL", ts)[-1].streaming
                                     and "says:" in s.thread("C0GENERAL", ts)[-1].markdown, timeout=20)
                [answer] = slack.thread("C0GENERAL", ts)
                assert "says: will the disk hold?" in answer.markdown
                assert not any(t["status"] in ("pending", "in_progress") for t in answer.tasks.values())
                assert "could not be saved" in str(answer.blocks) and "disk is full" in str(answer.blocks)
                assert not answer.buttons  # no Show layers for layers that were not kept
            finally:
                disk.free()
                await world.send.aclose()
                await world.stop()


async def test_a_mention_while_another_program_locks_the_database_is_answered(world: SlackWorld) -> None:
    async with lock_held(Path(world.settings.db_path)):
        ts = await world.send.mention("locked out?")
        await world.slack.wait_for(
            lambda s: any("says: locked out?" in m.markdown and not m.streaming for m in s.thread("C0GENERAL", ts)),
            timeout=30)
    [answer] = world.slack.thread("C0GENERAL", ts)
    assert "could not be saved" in str(answer.blocks)

    after = await world.send.mention("and now?")  # the lock is gone: everything is kept again
    await world.slack.wait_for(answered("C0GENERAL", after))
