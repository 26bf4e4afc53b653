"""Helpers the command-line tests share: a clean environment, a process on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def two_by_two(tmp_path: Path, *, final_budget: int | None = None, agent_budget: int | None = None) -> Path:
    """A MOA_CONFIG file: 2 layers × 2 agents and the aggregator, all on a provider named `local` serving
    `tiny`; the budgets (max_tokens) when given."""
    agents: dict[str, dict[str, object]] = {
        f"agent_{i}": {"model_name": "local:tiny", "system_prompt": f"You are agent {i}. {{helper_response}}"}
        for i in (1, 2)}
    config: dict[str, object] = {"main_model": "local:tiny", "cycles": 2, "layer_agent_config": agents}
    if agent_budget is not None:
        for agent in agents.values():
            agent["max_tokens"] = agent_budget
    if final_budget is not None:
        config["max_tokens"] = final_budget
    path = tmp_path / "2x2.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("GROQ_", "SLACK_", "DISCORD_", "MOA_")) and not k.lower().endswith("_proxy")
            and k not in ("COLUMNS", "LINES")}  # pytest-xdist workers set 80×24; a test's terminal has its own size
    return {**keep, **extra}


class Terminal:
    """A process on a pseudo-terminal, read with a deadline."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        # A wide window of its own, so no line wraps by how the test was started (a pty is 0×0 otherwise).
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                                     close_fds=True)
        os.close(slave)
        self.screen = ""

    def _read_until(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.screen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} never appeared; screen:\n{self.screen[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the process closed the terminal
                    raise AssertionError(f"{needle!r} never appeared; screen:\n{self.screen[-2000:]}") from None
        return self.screen

    async def expect(self, needle: str, timeout: float = 30.0) -> str:
        return await asyncio.to_thread(self._read_until, needle, timeout)

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        os.close(self.master)
