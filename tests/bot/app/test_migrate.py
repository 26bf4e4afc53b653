"""`moa-bot migrate --to postgresql://…`: the real command copies a SQLite database into a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from storage import ChannelKey, Database, ProposerRecord

CHANNEL = ChannelKey("slack", "T01", "C01")
THREAD = "1700.1"


def _clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("GROQ_", "SLACK_", "DISCORD_", "MOA_")) and not k.lower().endswith("_proxy")}
    return {**keep, **extra}


async def _moa_bot(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=_clean_env(**env),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _fill(path: Path) -> int:
    db = await Database.open(path)
    try:
        await db.configs.put(CHANNEL, '{"layers": 2}', "U-admin", "layers 2")
        await db.turns.add(CHANNEL, THREAD, "user", "Ada", "Is 9.11 or 9.9 larger?", created_at=1000.0)
        await db.turns.add(CHANNEL, THREAD, "assistant", "moa", "9.9 is larger.", created_at=1001.0)
        run_id = await db.runs.start(CHANNEL, THREAD, "M-q", "Is 9.11 or 9.9 larger?", '{"layers": 2}')
        await db.runs.finish(run_id, status="done", answer="9.9 is larger.", error=None,
                             proposers=[ProposerRecord(1, "a", "openai/gpt-oss-20b", "9.9", 1.5, 100, 20, None),
                                        ProposerRecord(1, "b", "openai/gpt-oss-120b", "", 2.0, None, None, "timeout")],
                             total_s=3.0, prompt_tokens=300, completion_tokens=60, cost_usd=0.0002)
        await db.runs.set_answer_messages(run_id, ["M-a1", "M-a2"])
        await db.event_keys.claim("slack:Ev01")
        await db.votes.cast(CHANNEL, run_id, "U-bob", 1)
        await db.budgets.put(CHANNEL, member_answers=5, channel_tokens=None, changed_by="U-admin")
    finally:
        await db.close()
    return run_id


async def test_migrate_copies_everything_once_and_says_what(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "moa-bot.db"
    run_id = await _fill(path)

    code, out, err = await _moa_bot(tmp_path, "migrate", "--to", postgres_url, MOA_DB_PATH=str(path))
    again, out_again, _ = await _moa_bot(tmp_path, "migrate", "--to", postgres_url, MOA_DB_PATH=str(path))

    assert (code, again) == (0, 0), err
    for table in ("configs", "turns", "runs", "proposer_outputs", "answer_messages", "event_keys", "votes", "budgets"):
        assert table in out
    assert "2 copied" in out
    assert "0 rows copied" in out_again and "(2 already there)" in out_again
    db = await Database.open(postgres_url)
    try:
        config = await db.configs.get(CHANNEL)
        changes = await db.configs.changes(CHANNEL)
        history = await db.turns.history(CHANNEL, THREAD, 1000)
        run = await db.runs.find_by_message(CHANNEL, "M-a2")
        duplicate = await db.event_keys.claim("slack:Ev01")
        vote_again = await db.votes.cast(CHANNEL, run_id, "U-bob", 1)
        budget = await db.budgets.get(CHANNEL)
        new_run = await db.runs.start(CHANNEL, THREAD, "M-q2", "And 9.8?", "{}")
    finally:
        await db.close()
    assert config is not None and config.config_json == '{"layers": 2}'
    assert [c.summary for c in changes] == ["layers 2"]
    assert [(t.author, t.text) for t in history] == [("Ada", "Is 9.11 or 9.9 larger?"), ("moa", "9.9 is larger.")]
    assert run is not None and run.id == run_id and run.answer_message_ids == ("M-a1", "M-a2")
    assert [(p.agent, p.error) for p in run.proposers] == [("a", None), ("b", "timeout")]
    assert (run.answer, run.cost_usd) == ("9.9 is larger.", 0.0002)
    assert duplicate is False  # a retry of an event answered before the move is still not answered twice
    assert vote_again is not None and vote_again.previous == 1  # Bob's vote came along
    assert budget is not None and budget.member_answers == 5
    assert new_run > run_id  # new ids continue after the copied ones


async def test_migrate_without_a_postgresql_url_says_how(tmp_path: Path) -> None:
    code, out, err = await _moa_bot(tmp_path, "migrate")

    assert code == 2 and out == ""
    assert "--to postgresql://" in err


async def test_migrate_without_a_sqlite_file_names_the_path(tmp_path: Path, postgres_url: str) -> None:
    code, _, err = await _moa_bot(tmp_path, "migrate", "--to", postgres_url, "--from", "missing.db")

    assert code == 2 and "There is no SQLite database at missing.db" in err
