"""Faults a test can inflict on the bot for real: a full disk, a lock held by another process, a read-only
file system, aged runs. (A kill is `Popen.kill()` / `Process.kill()`: SIGKILL, no goodbye.)

The disk is a small tmpfs (`mount -t tmpfs -o size=4m`), so the suite must run as root, as CI does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

DISK_BYTES = 4 * 1024 * 1024


class SmallDisk:
    """A 4 MB tmpfs at `path`: fill it to make every write fail with "disk is full", free it again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fill = path / "fill"

    def __enter__(self) -> SmallDisk:
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(self.path)], check=True)
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)

    def fill(self) -> None:
        """Take every free byte (dd stops at ENOSPC)."""
        subprocess.run(["dd", "if=/dev/zero", f"of={self._fill}", "bs=64k"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._fill.unlink()

    def read_only(self) -> None:
        """Remount read-only: even root cannot write there (file permissions do not stop root)."""
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)


class LockHolder:
    """Another process holding `BEGIN EXCLUSIVE` on a SQLite file until released."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> LockHolder:
        code = ("import sqlite3, sys\n"
                f"conn = sqlite3.connect({str(self.db)!r}, isolation_level=None)\n"
                "conn.execute('BEGIN EXCLUSIVE')\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n")
        self._proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True)
        assert self._proc.stdout is not None
        assert self._proc.stdout.readline().strip() == "locked"
        return self

    def release(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=10)

    def __exit__(self, *exc: object) -> None:
        self.release()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


@contextlib.asynccontextmanager
async def lock_held(db: Path) -> AsyncIterator[LockHolder]:
    """LockHolder for tests whose bot runs in the same event loop: taking the lock must not block the
    loop, or a write the bot has in flight could never finish and the holder would wait on it forever."""
    holder = LockHolder(db)
    await asyncio.to_thread(holder.__enter__)
    try:
        yield holder
    finally:
        await asyncio.to_thread(holder.__exit__, None, None, None)


def age_runs(db: Path, seconds: float) -> None:
    """Make every stored run `seconds` older (as if the process had died that long ago)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE runs SET started_at = started_at - ?", (seconds,))
        conn.commit()


def run_rows(db: Path) -> list[tuple[int, str, str | None]]:
    """(id, status, owner) of every run, read by another connection as an operator would."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute("SELECT id, status, owner FROM runs ORDER BY id")]


def process_env(**extra: str) -> dict[str, str]:
    """An environment for a `python -m bot` subprocess: PATH and HOME only, plus `extra`."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"), **extra}


async def wait_for_runs(db: Path, predicate: Callable[[list[sqlite3.Row]], bool], timeout: float = 10.0) -> None:
    """Wait until the stored runs (read by another connection) satisfy `predicate`.

    A file has no change notification to wait on, so this polls — for states a test cannot see
    elsewhere, such as a run's status message being recorded after it was posted.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM runs ORDER BY id").fetchall()
        if rows and predicate(rows):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"runs never matched; last seen: {[dict(r) for r in rows]}")
        await asyncio.sleep(0.05)
