"""Running the real `python -m bot …` as a subprocess, configured only by environment variables."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

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
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(), err.decode())
