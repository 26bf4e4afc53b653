"""Database: opens a SQLite file (WAL) or a PostgreSQL database, migrates it, and hangs the repositories off it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import aiosqlite

from storage.assistant_threads import AssistantThreadRepository
from storage.backend import Connection
from storage.budgets import BudgetRepository
from storage.configs import ConfigRepository
from storage.connection import SharedConnection
from storage.errors import StorageError, StorageFailure, sqlite_failure
from storage.event_keys import EventKeyRepository
from storage.experiments import ExperimentRepository
from storage.lock import ProcessLock
from storage.models import ChannelKey
from storage.owners import EXPIRY_S, OwnerRepository, new_owner_id
from storage.postgres import PgConnection, is_postgres_url
from storage.runs import RunRepository
from storage.schema import SCHEMA_VERSION, SchemaTooNew, migrate
from storage.turns import TurnRepository
from storage.usage import UsageRepository
from storage.votes import VoteRepository

# Another program (a sqlite3 shell, a backup) may hold the write lock. Opening waits a while for it; at
# run time an answer's write waits briefly (bot.conversation.keeper retries on top, then degrades), so a held lock
# costs an answer about a second, never the answer.
BUSY_TIMEOUT_MS = 2000
RUNTIME_BUSY_TIMEOUT_MS = 250


class Database:
    """The bot's database: a SQLite file, or PostgreSQL for several processes.

    Use `await Database.open(path_or_url)`, then db.configs / turns / runs / event_keys / usage / votes / budgets.
    """

    def __init__(self, shared: Connection, *, owner: str = "", lock: ProcessLock | None = None,
                 lease_expiry_s: float = EXPIRY_S) -> None:
        self._shared = shared
        self._lock = lock
        self._file: tuple[Path, int, int] | None = None  # a SQLite file's path, device and inode
        self.owner = owner  # this process's id, recorded on the runs it starts
        self.owners = OwnerRepository(shared, lease_expiry_s)
        self.configs = ConfigRepository(shared)
        self.turns = TurnRepository(shared)
        self.runs = RunRepository(shared)
        self.event_keys = EventKeyRepository(shared)
        self.usage = UsageRepository(shared)
        self.votes = VoteRepository(shared)
        self.budgets = BudgetRepository(shared)
        self.experiments = ExperimentRepository(shared)
        self.assistant_threads = AssistantThreadRepository(shared)

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql"."""
        return self._shared.dialect

    @classmethod
    async def open(cls, target: str | Path, *, lease_expiry_s: float = EXPIRY_S) -> Database:
        """Open `target` — a `postgresql://` URL, else a SQLite file path — and migrate it forward.

        `lease_expiry_s`: how long another process on a shared database may stay silent before its runs
        count as cut off.
        """
        if is_postgres_url(str(target)):
            return await cls._open_postgres(str(target), lease_expiry_s)
        return await cls._open_sqlite(target)

    @classmethod
    async def _open_postgres(cls, url: str, lease_expiry_s: float) -> Database:
        """Connect, migrate and take a lease for this process.

        Other processes may be answering on the same database right now: a run left running is cut off
        only when its owner stopped heartbeating (no file lock can prove the others gone). Cut-off runs are
        claimed per platform by whoever serves it (`runs.take_cut_off`), not here.
        """
        shared = await PgConnection.open(url)
        try:
            owner = new_owner_id()
            await OwnerRepository(shared, lease_expiry_s).register(owner)
        except BaseException:
            await shared.close()
            raise
        return cls(shared, owner=owner, lease_expiry_s=lease_expiry_s)

    @classmethod
    async def _open_sqlite(cls, path: str | Path) -> Database:
        """Create or open the file for this process alone and migrate it forward. Every other owner is gone
        then (the file lock proves it): the runs they left queued or running are cut off, for the adapter
        of their platform to claim (`runs.take_cut_off`) and answer or tell.

        Raises StorageError with a sentence naming the file and the fix when it cannot be used.
        """
        lock = None
        if str(path) != ":memory:":
            path = Path(path)
            _check_writable(path)
            try:
                lock = ProcessLock.acquire(path)
            except OSError as err:
                raise StorageError(f"Cannot create the lock file beside the database {path}: "
                                   f"{err.strerror or err}. {_FIX_PATH}") from None
        conn: aiosqlite.Connection | None = None
        try:
            # isolation_level=None: autocommit; transactions are explicit (see SharedConnection).
            conn = await aiosqlite.connect(path, isolation_level=None)
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await migrate(conn)
            shared = SharedConnection(conn)
            owner = new_owner_id()
            owners = OwnerRepository(shared)
            await owners.register(owner)
            if lock is not None:  # the file lock proves every other owner is gone
                await owners.forget_others(owner)
            await conn.execute(f"PRAGMA busy_timeout = {RUNTIME_BUSY_TIMEOUT_MS}")
            opened = os.stat(path) if lock is not None else None
        except BaseException as err:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            if lock is not None:
                lock.release()
            if isinstance(err, sqlite3.Error) and not isinstance(err, SchemaTooNew):
                raise StorageError(_open_failure(Path(str(path)), err)) from None
            if isinstance(err, SchemaTooNew):
                raise SchemaTooNew(f"{path}: {err}") from None
            raise
        db = cls(shared, owner=owner, lock=lock)
        if opened is not None:
            db._file = (Path(path), opened.st_dev, opened.st_ino)
        return db

    @classmethod
    async def open_read_only(cls, path: str | Path) -> Database:
        """Open an existing file (or PostgreSQL database) for reading only, next to a running bot: no
        migration, no recovery."""
        if is_postgres_url(str(path)):
            return cls(await PgConnection.open(str(path), migrate_schema=False))
        pending = aiosqlite.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
        try:
            conn = await pending
        except sqlite3.OperationalError:
            # aiosqlite stops its worker thread on a failed connect but does not wait: wait here, or it
            # reports to a loop that has closed (a traceback after the sentence).
            worker = getattr(pending, "_thread", None)
            if worker is not None:
                await asyncio.to_thread(worker.join, 5)
            raise FileNotFoundError(f"no readable database at {path}") from None
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            rows = list(await conn.execute_fetchall("PRAGMA user_version"))
            if int(rows[0][0]) != SCHEMA_VERSION:
                raise RuntimeError(f"{path} is at schema v{rows[0][0]}, this moa-bot reads v{SCHEMA_VERSION}: "
                                   "start `moa-bot run` (or upgrade moa-bot) once to bring it up to date")
        except BaseException:
            await conn.close()
            raise
        return cls(SharedConnection(conn))

    async def probe(self) -> None:
        """Whether storage works right now (for /healthz): one real read on the real connection, bounded in
        time, and for a SQLite file that its path still names the file this process has open (one moved
        away or replaced keeps answering through the open handle, but nothing written reaches the file a
        restart would open). Raises StorageFailure saying what is wrong."""
        await self._shared.probe()
        if self._file is not None:
            path, device, inode = self._file
            try:
                now = os.stat(path)
            except OSError as err:
                raise StorageFailure("missing", f"{path}: {err.strerror or err}") from None
            if (now.st_dev, now.st_ino) != (device, inode):
                raise StorageFailure("missing", f"{path} is another file than the one opened")
            if not os.access(path, os.R_OK | os.W_OK):
                raise StorageFailure("read_only", f"{path} is no longer readable and writable by this user")

    async def close(self) -> None:
        """Wait for the statement in flight, then close the connection and give up the file."""
        with contextlib.suppress(Exception):  # a full disk must not keep the process from stopping
            await self.owners.remove(self.owner)
        await self._shared.close()
        if self._lock is not None:
            self._lock.release()

    async def prune(self, days: int, now: float | None = None) -> int:
        """Delete turns and runs (with their proposer outputs) older than `days`; returns rows removed."""
        cutoff = (time.time() if now is None else now) - days * 86400
        await self.usage.fold()  # count runs in the usage rollups before they go
        async with self._shared.transaction() as tx:
            turns = await tx.execute("DELETE FROM turns WHERE created_at < ?", (cutoff,))
            runs = await tx.execute("DELETE FROM runs WHERE started_at < ?", (cutoff,))
        return turns + runs

    async def forget(self, channel: ChannelKey) -> int:
        """Delete this channel's turns and runs, in all its threads, at once; returns rows removed."""
        key = (channel.platform, channel.workspace, channel.channel)
        where = "platform = ? AND workspace = ? AND channel = ?"
        await self.usage.fold()  # what was spent stays counted; only the content goes
        async with self._shared.transaction() as tx:
            turns = await tx.execute(f"DELETE FROM turns WHERE {where}", key)
            runs = await tx.execute(f"DELETE FROM runs WHERE {where}", key)
        return turns + runs


_FIX_PATH = "Set MOA_DB_PATH to a file in a directory this user can write."


def _check_writable(path: Path) -> None:
    """Fail with a sentence before SQLite does with "attempt to write a readonly database"."""
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        blocker = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a directory" if blocker else (err.strerror or str(err))
        raise StorageError(f"Cannot create the directory {directory} for the database {path}: {reason}. "
                           f"Create it, or {_FIX_PATH[0].lower()}{_FIX_PATH[1:]}") from None
    if path.is_dir():
        raise StorageError(f"MOA_DB_PATH names the directory {path}; it must name a file, e.g. "
                           f"{path / 'moa-bot.db'}.")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StorageError(f"The database file {path} is read-only (no write permission, or a read-only file "
                           f"system). Make it writable (e.g. `chmod u+w {path}`), or {_FIX_PATH[0].lower()}"
                           f"{_FIX_PATH[1:]}")
    if not os.access(directory, os.W_OK | os.X_OK):
        verb = "use" if path.exists() else "create"
        raise StorageError(f"The directory {directory} is not writable, so moa-bot cannot {verb} its database "
                           f"{path} there (SQLite also writes {path.name}-wal beside it). Make the directory "
                           f"writable for this user, or {_FIX_PATH[0].lower()}{_FIX_PATH[1:]}")


def _open_failure(path: Path, err: sqlite3.Error) -> str:
    """What went wrong opening `path`, as a sentence with the fix."""
    failure = sqlite_failure(err)
    kind = failure.kind if failure is not None else None
    if kind == "damaged":
        return (f"The file {path} is not a usable moa-bot database (SQLite: {err}). If it is another file, "
                f"set MOA_DB_PATH to a new path; if it is a damaged moa-bot database, restore it from a "
                f"backup or move it aside (moa-bot then starts with a fresh one).")
    if kind == "locked":
        return (f"The database {path} is locked by another program (SQLite: {err}). Close whatever holds "
                f"it open in a transaction (e.g. a sqlite3 shell or a backup tool) and start again.")
    if kind == "read_only":
        return (f"The database {path} cannot be written (SQLite: {err}). Make the file and its directory "
                f"writable for this user, or {_FIX_PATH[0].lower()}{_FIX_PATH[1:]}")
    if kind == "disk_full":
        return f"The disk holding {path} is full (SQLite: {err}). Free some space and start again."
    return f"Cannot open the database {path} (SQLite: {err}). {_FIX_PATH}"
