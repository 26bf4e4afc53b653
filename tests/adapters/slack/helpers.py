"""Helpers the Slack adapter's tests share: the real `moa-bot run` in HTTP mode, and what an answered
thread looks like."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import sys
from pathlib import Path

from tests.fakes.groq_server import FakeGroq
from tests.fakes.slack_api import FakeSlack

SECRET = "process-signing-secret"
CHECKOUT = Path(__file__).resolve().parents[3]  # the repository these tests belong to


async def wait_for_port(port: int, proc: asyncio.subprocess.Process, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        assert proc.returncode is None, "moa-bot run exited early"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.05)  # the port is not open yet; nothing to wait on but the clock
    raise AssertionError(f"moa-bot run did not listen on {port} within {timeout} s")


async def start_bot(slack: FakeSlack, groq: FakeGroq, tmp_path: Path, port: int, *,
                     descriptor_limit: int | None = None, extra_env: dict[str, str] | None = None
                     ) -> asyncio.subprocess.Process:
    """`moa-bot run` configured only by environment variables (optionally with a hard descriptor limit,
    and `extra_env` over the defaults)."""
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
        "PYTHONPATH": str(CHECKOUT),  # this checkout's code, not whichever the installed package points at
        "SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": SECRET, "SLACK_PORT": str(port),
        "SLACK_HOST": "127.0.0.1", "SLACK_API_URL": slack.api_url,
        "GROQ_BASE_URL": groq.base_url, "GROQ_API_KEY": "gsk_test",
        "MOA_DB_PATH": str(tmp_path / "moa.db"), **(extra_env or {}),
    }
    script = shutil.which("moa-bot")
    command = [script, "run"] if script else [sys.executable, "-m", "bot", "run"]

    def limit_descriptors() -> None:
        if descriptor_limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (descriptor_limit, descriptor_limit))

    proc = await asyncio.create_subprocess_exec(*command, env=env, cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                preexec_fn=limit_descriptors)
    await wait_for_port(port, proc)
    return proc


def answered(channel: str, thread: str):
    def check(slack: FakeSlack) -> bool:
        messages = slack.thread(channel, thread)
        return bool(messages) and bool(messages[-1].buttons) and not any(m.streaming for m in messages)
    return check
