"""Real `moa-bot run` processes, each running one Discord shard: the split, a crash, and bad shard settings."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.adapters.discord.conftest import bot_env
from tests.adapters.discord.helpers import answers
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeGroq
from tests.faults import wait_for_runs

Start = Callable[..., Any]


@pytest_asyncio.fixture
async def start_shard(discord: FakeDiscord, fake_groq: FakeGroq,
                      tmp_path: Path) -> AsyncIterator[Start]:
    """`await start_shard(1)` → a `moa-bot run` running shard 1 of 2 on its own database, once connected."""
    procs: list[asyncio.subprocess.Process] = []

    async def start(shard: int) -> asyncio.subprocess.Process:
        env = bot_env(discord, fake_groq, tmp_path / f"shard{shard}.db", DISCORD_SHARD_COUNT="2",
                      DISCORD_SHARD_IDS=str(shard))
        sessions = len(discord.identifies)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                                                    stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        procs.append(proc)
        await discord.wait_for(lambda f: len(f.identifies) > sessions and shard in f.connected_shards(), timeout=10)
        return proc

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_two_processes_split_the_guilds_and_answer_each_mention_once(
        discord: FakeDiscord, start_shard: Start) -> None:
    second_guild = discord.add_guild("Second Guild", shard=1, shard_count=2)
    first, second = await start_shard(0), await start_shard(1)

    here = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} first guild")
    there = await discord.say(second_guild.general, discord.bob, f"{discord.bot_mention} second guild")
    [answer_here] = await discord.wait_for(lambda f: answers(f, here["id"]), timeout=10)
    [answer_there] = await discord.wait_for(lambda f: answers(f, there["id"]), timeout=10)

    for proc in (first, second):  # SIGTERM drains: nothing more is posted after this
        proc.send_signal(signal.SIGTERM)
    results = [await asyncio.wait_for(proc.communicate(), 15) for proc in (first, second)]
    assert [proc.returncode for proc in (first, second)] == [0, 0], [err.decode()[-2000:] for _, err in results]
    assert "says: first guild" in answer_here["content"] and "says: second guild" in answer_there["content"]
    assert [len(answers(discord, q["id"])) for q in (here, there)] == [1, 1]
    assert [len(discord.bot_messages(thread_id=q["id"])) for q in (here, there)] == [1, 1]  # one status each
    assert (discord.deliveries(here["id"], shard=1), discord.deliveries(there["id"], shard=0)) == (0, 0)
    assert [i["shard"] for i in discord.identifies] == [[0, 2], [1, 2]]


async def test_a_shard_process_killed_mid_answer_answers_the_thread_after_its_restart(
        discord: FakeDiscord, fake_groq: FakeGroq, start_shard: Start, tmp_path: Path) -> None:
    second_guild = discord.add_guild("Second Guild", shard=1, shard_count=2)
    await start_shard(0)
    fake_groq.latency = 30.0  # the answer is still being written when the process dies
    proc = await start_shard(1)
    question = await discord.say(second_guild.general, discord.alice, f"{discord.bot_mention} cut me off")
    await fake_groq.wait_for(lambda f: len(f.calls) >= 3)
    await wait_for_runs(tmp_path / "shard1.db", lambda rows: all(r["surface"] for r in rows))
    proc.kill()
    await proc.wait()

    fake_groq.latency = 0.0
    await start_shard(1)

    await _answered_again_in_place(discord, question["id"])


async def _answered_again_in_place(discord: FakeDiscord, thread: str) -> None:
    """A question cut off by a crash is answered after the restart, in its old status message."""
    [answer] = await discord.wait_for(lambda f: answers(f, thread), timeout=15)
    assert "I restarted while answering this" in answer["content"] and "cut me off" in answer["content"]
    assert [m["id"] for m in discord.bot_messages(thread)] == [answer["id"]]


@pytest.mark.parametrize(("settings", "sentence"), [
    ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "2"},
     "DISCORD_SHARD_IDS must be comma-separated shard numbers from 0 to 1 (DISCORD_SHARD_COUNT=2)"),
    ({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "0;1"},
     "DISCORD_SHARD_IDS must be comma-separated shard numbers from 0 to 1 (DISCORD_SHARD_COUNT=2), not '0;1'."),
    ({"DISCORD_SHARD_IDS": "1"}, "DISCORD_SHARD_IDS=1 needs DISCORD_SHARD_COUNT too"),
    ({"DISCORD_SHARD_COUNT": "0"}, "DISCORD_SHARD_COUNT must be a whole number 1 or more, not '0'."),
])
async def test_bad_shard_settings_are_named_in_one_sentence_and_nothing_connects(
        discord: FakeDiscord, fake_groq: FakeGroq, tmp_path: Path, settings: dict[str, str],
        sentence: str) -> None:
    env = bot_env(discord, fake_groq, tmp_path / "moa.db", **settings)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                                                stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == 2
    assert sentence in err.decode()
    assert "Traceback" not in err.decode()
    assert discord.calls == [] and discord.identifies == []


async def test_cut_off_questions_are_answered_when_the_first_of_a_processs_shards_is_ready(
        discord: FakeDiscord, fake_groq: FakeGroq, tmp_path: Path) -> None:
    discord.max_concurrency = 2  # both shards of the process IDENTIFY at once
    env = bot_env(discord, fake_groq, tmp_path / "moa.db", DISCORD_SHARD_COUNT="2")
    fake_groq.latency = 30.0  # the answer is still being written when the process dies

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                                                    stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)

    proc = await start()
    try:
        await discord.wait_for(lambda f: f.connected_shards() == [0, 1], timeout=10)
        question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} cut me off")
        await fake_groq.wait_for(lambda f: len(f.calls) >= 3)
        await wait_for_runs(tmp_path / "moa.db", lambda rows: all(r["surface"] for r in rows))
        proc.kill()
        await proc.wait()
        discord.stalled_shards.add(1)  # after the restart shard 1 never gets READY: the process is never ready

        fake_groq.latency = 0.0
        proc = await start()

        await _answered_again_in_place(discord, question["id"])
        assert discord.connected_shards() == [0]
        assert [i["shard"] for i in discord.identifies] == [[0, 2], [1, 2], [0, 2], [1, 2]]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
