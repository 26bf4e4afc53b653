"""`moa-bot run` on a database it cannot use says why in one sentence naming the file and the fix, exits 2,
and shows no traceback; a second process on the same file refuses to start and leaves the first alone."""

from __future__ import annotations

import asyncio
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.adapters.slack.helpers import SECRET, start_bot
from tests.bot.process import free_port
from tests.fakes.fixtures import fake_groq  # noqa: F401  (fixture)
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender
from tests.faults import LockHolder, SmallDisk, process_env, run_rows


def _run_bot(db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bot run` with a Slack token (so it does not offer the console) on `db`."""
    env = process_env(MOA_DB_PATH=str(db), GROQ_API_KEY="gsk_test", SLACK_BOT_TOKEN="xoxb-test",
                      SLACK_SIGNING_SECRET="secret", SLACK_HOST="127.0.0.1", SLACK_PORT=str(free_port()),
                      SLACK_API_URL="http://127.0.0.1:9/api/")
    return subprocess.run([sys.executable, "-m", "bot", "run"], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def _assert_sentence(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_a_file_that_is_not_a_database_is_named_with_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("these are my notes, not a database\n" * 200)
    _assert_sentence(_run_bot(db, tmp_path), str(db), "not a usable moa-bot database", "MOA_DB_PATH")
    assert db.read_text().startswith("these are my notes")  # left as it was


def test_a_corrupt_database_is_named_with_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "moa.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x)")
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page, overwritten
    db.write_bytes(bytes(data))
    _assert_sentence(_run_bot(db, tmp_path), str(db), "backup")


def test_a_path_whose_directory_cannot_be_created_is_named_with_the_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where a directory should be")
    db = blocker / "moa.db"
    _assert_sentence(_run_bot(db, tmp_path), "Cannot create the directory", str(blocker), "MOA_DB_PATH")


def test_a_read_only_database_file_is_named_with_the_fix(tmp_path: Path) -> None:
    with SmallDisk(tmp_path / "disk") as disk:
        db = disk.path / "moa.db"
        sqlite3.connect(db).close()
        disk.read_only()
        _assert_sentence(_run_bot(db, tmp_path), str(db), "read-only", "MOA_DB_PATH")


def test_an_unwritable_directory_is_not_reported_as_a_readonly_database(tmp_path: Path) -> None:
    with SmallDisk(tmp_path / "disk") as disk:
        disk.read_only()
        db = disk.path / "moa.db"
        result = _run_bot(db, tmp_path)
        _assert_sentence(result, f"The directory {disk.path} is not writable", "MOA_DB_PATH")
        assert "attempt to write a readonly database" not in result.stderr


def test_a_database_locked_by_another_program_is_named_with_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "moa.db"
    sqlite3.connect(db).close()
    with LockHolder(db):
        _assert_sentence(_run_bot(db, tmp_path), str(db), "locked by another program")


def test_the_console_chat_on_a_file_in_use_refuses_with_the_same_sentence(tmp_path: Path) -> None:
    db = tmp_path / "moa.db"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys\n"
        f"f = open({str(db) + '.lock'!r}, 'a+'); fcntl.flock(f, fcntl.LOCK_EX); f.write('4242'); f.flush()\n"
        "print('held', flush=True); sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        main_fd, terminal = pty.openpty()
        try:  # on a terminal with no platform token, `run` opens the console chat
            result = subprocess.run([sys.executable, "-m", "bot", "run"], stdin=terminal, stdout=terminal,
                                    stderr=subprocess.PIPE, text=True, timeout=60, cwd=tmp_path,
                                    env=process_env(MOA_DB_PATH=str(db), GROQ_API_KEY="gsk_test"))
        finally:
            os.close(terminal)
            os.close(main_fd)
        _assert_sentence(result, "Another moa-bot process (pid 4242)", str(db))
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)


async def test_a_second_process_on_the_same_file_refuses_and_leaves_the_first_ones_run_alone(
        fake_groq: FakeGroq, tmp_path: Path) -> None:  # noqa: F811
    fake_groq.latency = 1.0
    port = free_port()
    async with FakeSlack() as slack:
        sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", SECRET)
        first = await start_bot(slack, fake_groq, tmp_path, port)
        try:
            ts = await sender.mention("one process at a time")
            await fake_groq.wait_for(lambda f: len(f.calls) >= 1)

            second = await asyncio.to_thread(_run_bot, tmp_path / "moa.db", tmp_path)
            _assert_sentence(second, "Another moa-bot process", f"pid {first.pid}", str(tmp_path / "moa.db"))
            assert [status for _, status, _ in run_rows(tmp_path / "moa.db")] == ["running"]

            await slack.wait_for(lambda s: s.thread("C0GENERAL", ts) and s.thread("C0GENERAL", ts)[-1].buttons,
                                 timeout=20)
            assert "says: one process at a time" in slack.thread_answer("C0GENERAL", ts)
            assert not any("ask again" in m.markdown for m in slack.thread("C0GENERAL", ts))
        finally:
            await sender.aclose()
            first.kill()
            await first.wait()
