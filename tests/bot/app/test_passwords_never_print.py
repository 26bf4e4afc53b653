"""A password in MOA_DATABASE_URL never prints — in any spelling libpq reads — from `doctor`, `migrate`,
`usage` or `run` (the real commands against the real PostgreSQL, reachable or not)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from storage import Database
from tests.adapters.slack.helpers import answered, start_bot
from tests.bot.app.helpers import clean_env
from tests.bot.process import free_port
from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack, SlackSender

SECRETS = ("hunter22", "hun@ter22", "hun%40ter22")


def _forms(url: str) -> dict[str, str]:
    """`url` (postgresql://user@host:port/db?…) with a password written each way libpq accepts."""
    scheme, rest = url.split("://", 1)
    user, server = rest.split("@", 1)
    base, _, query = server.partition("?")  # the test's own schema (search_path) is kept in every form
    return {
        "user:pw@": f"{scheme}://{user}:hunter22@{server}",
        ":pw@": f"{scheme}://:hunter22@{server}",
        "?password=": f"{scheme}://{user}@{base}?password=hunter22{'&' + query if query else ''}",
        "&password=": f"{scheme}://{user}@{server}{'&' if '?' in server else '?'}password=hunter22",
        "percent-encoded": f"{scheme}://{user}:hun%40ter22@{server}",
        "raw @ inside": f"{scheme}://{user}:hun@ter22@{server}",
        "unreachable": f"{scheme}://{user}:hunter22@127.0.0.1:1/moa?password=hunter22",
    }


FORM_NAMES = list(_forms("postgresql://u@h:1/d"))


async def _moa_bot(tmp_path: Path, url: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=tmp_path,
        env=clean_env(MOA_DATABASE_URL=url, MOA_DB_PATH=str(tmp_path / "moa.db"), GROQ_API_KEY="gsk_test",
                      GROQ_BASE_URL="http://127.0.0.1:1", COLUMNS="200"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode() + err.decode()


@pytest.mark.parametrize("form", FORM_NAMES)
async def test_doctor_migrate_and_usage_never_print_the_password(tmp_path: Path, postgres_url: str,
                                                                 form: str) -> None:
    url = _forms(postgres_url)[form]
    await (await Database.open(tmp_path / "moa.db")).close()  # something for migrate to copy
    for command in ("doctor", "migrate", "usage"):
        output = await _moa_bot(tmp_path, url, command)
        if command != "usage":  # these name the database they used (usage prints a report, or why not)
            assert "postgres" in output.lower(), output
        assert not [s for s in SECRETS if s in output], output
        assert "Traceback" not in output, output


@pytest.mark.parametrize("form", ["?password=", "raw @ inside", "unreachable"])
async def test_run_never_prints_the_password(fake_groq: FakeGroq, tmp_path: Path, postgres_url: str,
                                             form: str) -> None:
    url = _forms(postgres_url)[form]
    port = free_port()
    async with FakeSlack() as slack:
        try:
            proc = await start_bot(slack, fake_groq, tmp_path, port, extra_env={"MOA_DATABASE_URL": url})
        except AssertionError:  # it stopped at start with a sentence: read what it printed
            proc = None
        if proc is not None:
            sender = SlackSender(slack, f"http://127.0.0.1:{port}/slack/events", "process-signing-secret")
            try:
                ts = await sender.mention("are you there?")
                await slack.wait_for(answered("C0GENERAL", ts), timeout=20)
            finally:
                await sender.aclose()
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 20)
            output = out.decode() + err.decode()
        else:
            output = await _moa_bot(tmp_path, url, "run")
    assert not [s for s in SECRETS if s in output], output
    assert "Traceback" not in output, output
