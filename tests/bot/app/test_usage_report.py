"""`moa-bot usage`: the real command on a stored database, across channels, as tables and as JSON."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from storage import ChannelKey, Database, ProposerRecord
from tests.bot.app.helpers import clean_env

SLACK = ChannelKey("slack", "T1", "C0GENERAL")
DISCORD = ChannelKey("discord", "G1", "123456789012345678")
CONFIG = '{"main_model": "openai/gpt-oss-120b", "cycles": 1}'


async def _fill(path: Path) -> None:
    db = await Database.open(path)
    try:
        for channel, label, n in ((SLACK, "article", 3), (DISCORD, "lite", 2)):
            for _ in range(n):
                run_id = await db.runs.start(channel, "t", "m", "q", CONFIG, author="U1", config_label=label)
                proposers = [ProposerRecord(1, "a", "openai/gpt-oss-20b", "x", 1.0, 100, 10, None, cached_tokens=60)]
                await db.runs.finish(run_id, status="done", answer="a", error=None, proposers=proposers,
                                     total_s=5.0, prompt_tokens=400, completion_tokens=40, cost_usd=0.001,
                                     cached_tokens=300)
            await db.usage.fold() if channel is SLACK else None  # the Discord runs stay unfolded
        await db.votes.cast(DISCORD, run_id, "U2", -1)
    finally:
        await db.close()


async def _moa_bot(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "usage", *args, cwd=tmp_path,
        env=clean_env(MOA_DB_PATH=str(tmp_path / "moa.db"), COLUMNS="200"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_usage_as_json_covers_every_channel_including_runs_not_folded_yet(tmp_path: Path) -> None:
    await _fill(tmp_path / "moa.db")

    code, out, _ = await _moa_bot(tmp_path, "--json")

    assert code == 0
    report = json.loads(out)
    assert report["periods"]["today"]["answers"] == 5 and report["periods"]["30 days"]["model_calls"] == 10
    assert {(c["platform"], c["answers"]) for c in report["channels"]} == {("slack", 3), ("discord", 2)}
    assert {c["config"]: (c["answers"], c["down"]) for c in report["configs"]} == {"article": (3, 0), "lite": (2, 1)}
    assert {m["model"]: m["calls"] for m in report["models"]} == {"openai/gpt-oss-20b": 5, "openai/gpt-oss-120b": 5}
    # cached input beside input and output, the aggregator's share included
    assert report["periods"]["today"]["tokens_cached_in"] == 5 * 300
    assert {m["model"]: m["tokens_cached_in"] for m in report["models"]} == {
        "openai/gpt-oss-20b": 5 * 60, "openai/gpt-oss-120b": 5 * (300 - 60)}


async def test_usage_of_one_channel_as_tables(tmp_path: Path) -> None:
    await _fill(tmp_path / "moa.db")

    code, out, _ = await _moa_bot(tmp_path, "--channel", DISCORD.channel, "--days", "7")

    assert code == 0
    assert "moa-bot usage" in out and "By config" in out and "By model" in out
    assert "lite" in out and "article" not in out
    assert "0/1" in out
    assert "cached" in out and "600" in out  # the two Discord answers' 300 cached tokens each


async def test_usage_without_a_database_says_so(tmp_path: Path) -> None:
    code, _, err = await _moa_bot(tmp_path)
    assert code == 1 and "no readable database" in err and "MOA_DB_PATH" in err


async def test_days_beyond_what_dates_allow_is_a_sentence(tmp_path: Path) -> None:
    await _fill(tmp_path / "moa.db")
    code, _, err = await _moa_bot(tmp_path, "--days", "999999999")
    assert code == 2 and "--days must be from 1 to" in err and "1970-01-01" in err and "Traceback" not in err


async def test_a_damaged_file_is_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "moa.db").write_bytes(b"this is not a database, just some bytes " * 200)
    code, _, err = await _moa_bot(tmp_path)
    assert code == 1 and "not a readable moa-bot database" in err and "Traceback" not in err


async def test_a_path_that_cannot_be_opened_is_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "moa.db").mkdir()  # a directory where the file should be (as root, modes don't stop reads)
    code, _, err = await _moa_bot(tmp_path)
    assert code == 1 and "MOA_DB_PATH" in err and "Traceback" not in err


async def test_an_exclusively_locked_file_is_a_sentence(tmp_path: Path) -> None:
    await _fill(tmp_path / "moa.db")
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c",
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(tmp_path / 'moa.db')!r}, isolation_level=None)\n"
        "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')\n"
        "c.execute('CREATE TABLE IF NOT EXISTS held (x)')\n"
        "print('held', flush=True); time.sleep(60)\n",
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 30)).strip() == b"held"
        code, _, err = await _moa_bot(tmp_path)
    finally:
        holder.kill()
        await holder.wait()
    assert code == 1 and "locked" in err and "Traceback" not in err


@pytest.mark.parametrize("url", ["postgresql://moa:hunter22@127.0.0.1:notaport/moa",
                                 "postgresql://moa:hunter22@127.0.0.1:99999/moa",
                                 "postgresql://moa:hunter22@[::1/moa"])
async def test_a_database_url_with_a_bad_port_or_host_is_a_sentence(tmp_path: Path, url: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "usage", cwd=tmp_path, env=clean_env(MOA_DATABASE_URL=url),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, raw = await asyncio.wait_for(proc.communicate(), 60)
    err = raw.decode()
    assert proc.returncode == 1 and "MOA_DATABASE_URL" in err and "the URL cannot be read" in err
    assert "Traceback" not in err and "hunter22" not in err
