"""The real `moa-bot run` process, configured only by environment, against the fakes; and doctor's invite URL."""

from __future__ import annotations

import asyncio
import base64
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import discord as dpy

from adapters.discord.runner import invite_url
from tests.adapters.discord.conftest import bot_env
from tests.adapters.discord.helpers import answers
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.groq_server import FakeGroq
from tests.faults import age_runs, wait_for_runs


async def test_moa_bot_run_answers_a_mention_and_stops_cleanly_on_sigterm(
        discord: FakeDiscord, fake_groq: FakeGroq, tmp_path: Path) -> None:
    env = bot_env(discord, fake_groq, tmp_path / "moa.db")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await discord.wait_for(lambda f: f.identifies and f.connected, timeout=10)
        question = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} are you there?")
        [answer] = await discord.wait_for(lambda f: answers(f, question["id"]))
        assert "are you there?" in answer["content"]

        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert discord.token not in err.decode()  # the token never reaches the log
    assert discord.commands["global"][0]["name"] == "moa"


def test_the_invite_url_asks_for_the_scopes_and_permissions_the_bot_uses() -> None:
    query = parse_qs(urlparse(invite_url(1234567890123456789)).query)

    assert query["client_id"] == ["1234567890123456789"]
    assert query["scope"] == ["bot applications.commands"]
    granted = dpy.Permissions(int(query["permissions"][0]))
    assert granted == dpy.Permissions(view_channel=True, send_messages=True, send_messages_in_threads=True,
                                      create_public_threads=True, read_message_history=True, embed_links=True,
                                      add_reactions=True)
    assert not granted.administrator and not granted.mention_everyone


async def test_doctor_prints_the_invite_url(discord: FakeDiscord, fake_groq: FakeGroq, tmp_path: Path) -> None:
    token = base64.b64encode(discord.app_id.encode()).decode().rstrip("=") + ".GxYzAb.secret-part"
    env = bot_env(discord, fake_groq, tmp_path / "moa.db", DISCORD_TOKEN=token, COLUMNS="400")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "doctor", env=env, cwd=tmp_path,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 20)

    assert invite_url(discord.app_id) in out.decode()
    assert "message-content intent off" in out.decode()


async def _start(discord: FakeDiscord, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    sessions = len(discord.identifies)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=env, cwd=cwd,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await discord.wait_for(lambda f: len(f.identifies) > sessions and f.connected, timeout=10)
    return proc


async def _crash_while_answering(discord: FakeDiscord, groq: FakeGroq, env: dict[str, str],
                                 cwd: Path, question: str) -> tuple[str, dict[str, Any]]:
    """Start the bot, ask, kill -9 it mid-answer; returns the thread id and the status it left frozen."""
    groq.latency = 30.0  # the answer is still being written when the process dies
    proc = await _start(discord, env, cwd)
    try:
        asked = await discord.say(discord.general, discord.alice, f"{discord.bot_mention} {question}")
        await groq.wait_for(lambda f: len(f.calls) >= 3)
        [status] = await discord.wait_for(lambda f: f.bot_messages(asked["id"]))
        # The status is posted, then its place recorded: kill only once both happened.
        await wait_for_runs(Path(env["MOA_DB_PATH"]), lambda rows: all(r["surface"] for r in rows))
    finally:
        proc.kill()  # no SIGTERM, no goodbye: nothing told the asker yet
        await proc.wait()
    return asked["id"], status


async def test_a_recent_question_cut_off_by_a_crash_is_answered_in_place_of_its_frozen_status(
        discord: FakeDiscord, fake_groq: FakeGroq, tmp_path: Path) -> None:
    env = bot_env(discord, fake_groq, tmp_path / "moa.db")
    thread, status = await _crash_while_answering(discord, fake_groq, env, tmp_path, "cut me off")
    fake_groq.latency = 0.0
    proc = await _start(discord, env, tmp_path)
    try:
        [answer] = await discord.wait_for(lambda f: answers(f, thread), timeout=15)
        assert answer["id"] == status["id"]  # the frozen status became the answer
        assert "cut me off" in answer["content"] and "I restarted while answering this" in answer["content"]
        assert [m["id"] for m in discord.bot_messages(thread)] == [status["id"]]
    finally:
        proc.kill()
        await proc.wait()


async def test_an_old_question_cut_off_by_a_crash_is_told_to_ask_again_in_place_of_its_status(
        discord: FakeDiscord, fake_groq: FakeGroq, tmp_path: Path) -> None:
    env = bot_env(discord, fake_groq, tmp_path / "moa.db")
    thread, status = await _crash_while_answering(discord, fake_groq, env, tmp_path, "an old one")
    age_runs(tmp_path / "moa.db", 3600)  # the bot stayed down for an hour
    proc = await _start(discord, env, tmp_path)
    try:
        await discord.wait_for(
            lambda f: ["x" for m in f.bot_messages(thread) if "please ask again" in m["content"]], timeout=10)
        [notice] = discord.bot_messages(thread)
        assert notice["id"] == status["id"] and "restarted" in notice["content"]
    finally:
        proc.kill()
        await proc.wait()
