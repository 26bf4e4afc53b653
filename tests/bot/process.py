"""Running the real `python -m bot …` as a subprocess, configured only by environment variables."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.fakes.groq_server import FakeGroq


@dataclass(frozen=True)
class Finished:
    code: int
    out: str
    err: str


def base_env(groq: FakeGroq, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment: the fake Groq, a database in `tmp_path`, no proxies; `extra` on top."""
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and not k.startswith(("MOA_", "SLACK_", "DISCORD_", "GROQ_"))}
    env.update({"HOME": str(tmp_path), "GROQ_API_KEY": "gsk_test", "GROQ_BASE_URL": groq.base_url,
                "MOA_DB_PATH": str(tmp_path / "moa.db"), "COLUMNS": "80"})
    env.update(extra)
    return env


async def run_bot(env: dict[str, str], *args: str, cwd: Path, stdin: bytes = b"",
                  timeout: float = 60) -> Finished:
    """Run `python -m bot ARGS` to its end (stdin given, not a terminal)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return await _finished(proc, timeout, stdin)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_bot(env: dict[str, str], *args: str, cwd: Path) -> asyncio.subprocess.Process:
    """Start `python -m bot ARGS` in the background (stop it with `stop_bot`)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def stop_bot(proc: asyncio.subprocess.Process, timeout: float = 15) -> Finished:
    """SIGTERM, then what it printed; killed if it does not stop in time."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    return await _finished(proc, timeout)


async def _finished(proc: asyncio.subprocess.Process, timeout: float, stdin: bytes | None = None) -> Finished:
    """What the process printed once it ends; killed if it does not end within `timeout`."""
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(), err.decode())


async def get_when(proc: asyncio.subprocess.Process, url: str,
                   until: Callable[[int, str], bool] = lambda status, body: True,
                   timeout: float = 15) -> tuple[int, str]:
    """GET `url` until the process listens there and `until(status, body)` holds: (status, body)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: tuple[int, str] = (0, "")
    async with aiohttp.ClientSession() as http:
        while loop.time() < deadline:
            assert proc.returncode is None, "the bot exited early"
            try:
                async with http.get(url) as response:
                    seen = response.status, await response.text()
                if until(*seen):
                    return seen
            except aiohttp.ClientConnectionError:
                pass  # not listening yet
            await asyncio.sleep(0.05)  # another process's state: nothing to wait on but the clock
    raise AssertionError(f"GET {url} did not satisfy the condition within {timeout} s; last: {seen}")
