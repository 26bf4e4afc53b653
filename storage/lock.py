"""One process per SQLite file: an OS lock on `<db>.lock`, released by the kernel when the process dies.

A second `moa-bot run` (or the console chat) on the same file would mark the first one's live runs as
interrupted and answer them twice; it refuses to start instead. `kill -9` frees the lock at once, so a
restart after a crash is never blocked by a stale file.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from storage.errors import DatabaseInUse


class ProcessLock:
    """An exclusive, non-blocking `flock` on the database's sidecar lock file."""

    def __init__(self, handle: IO[str], path: Path) -> None:
        self._handle = handle
        self.path = path

    @classmethod
    def acquire(cls, database: Path) -> ProcessLock:
        """Take the lock for `database` or raise DatabaseInUse naming the holder and the fix."""
        path = database.with_name(database.name + ".lock")
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 — held open for the process's life
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise DatabaseInUse(
                f"Another moa-bot process{who} is already using the database {database}. Only one process "
                f"may use a SQLite file: stop the other one first, or give this one its own file with "
                f"MOA_DB_PATH (several processes on one database need MOA_DATABASE_URL=postgresql://…)."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        return cls(handle, path)

    def release(self) -> None:
        """Give the file up (closing the descriptor drops the lock)."""
        if not self._handle.closed:
            self._handle.close()
