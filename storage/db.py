"""Database: opens the SQLite file (WAL, migrations) and hangs the repositories off one shared connection."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import aiosqlite

from storage.backend import Connection
from storage.budgets import BudgetRepository
from storage.configs import ConfigRepository
from storage.connection import SharedConnection
from storage.event_keys import EventKeyRepository
from storage.models import ChannelKey, UnfinishedRun
from storage.postgres import PgConnection, is_postgres_url
from storage.runs import RunRepository
from storage.schema import SCHEMA_VERSION, migrate
from storage.turns import TurnRepository
from storage.usage import UsageRepository
from storage.votes import VoteRepository

BUSY_TIMEOUT_MS = 5000  # another process (e.g. `moa-bot ask` next to `run`) may hold the write lock


class Database:
    """The bot's database: a SQLite file, or PostgreSQL for several processes.

    Use `await Database.open(path_or_url)`, then db.configs / turns / runs / event_keys.
    """

    def __init__(self, shared: Connection, interrupted_at_open: list[UnfinishedRun]) -> None:
        self._shared = shared
        self.interrupted_at_open = interrupted_at_open
        self.configs = ConfigRepository(shared)
        self.turns = TurnRepository(shared)
        self.runs = RunRepository(shared)
        self.event_keys = EventKeyRepository(shared)
        self.usage = UsageRepository(shared)
        self.votes = VoteRepository(shared)
        self.budgets = BudgetRepository(shared)

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql"."""
        return self._shared.dialect

    @classmethod
    async def open(cls, target: str | Path) -> Database:
        """Open `target` — a `postgresql://` URL, else a SQLite file path — and migrate it forward."""
        if is_postgres_url(str(target)):
            return await cls._open_postgres(str(target))
        return await cls._open_sqlite(target)

    @classmethod
    async def _open_postgres(cls, url: str) -> Database:
        # Other processes may be answering on this database right now: a run left 'running' is not proof
        # its process died, so none is marked interrupted here. (Which runs are cut off is a question
        # for leases: each process's heartbeat, not a guess at start-up.)
        return cls(await PgConnection.open(url), [])

    @classmethod
    async def _open_sqlite(cls, path: str | Path) -> Database:
        """Create or open the file, migrate it forward, and mark runs left 'running' as 'interrupted'."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; transactions are explicit (see SharedConnection).
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await migrate(conn)
            shared = SharedConnection(conn)
            # A run still 'running' belongs to a process that is gone: it will never finish.
            interrupted = await RunRepository(shared).mark_interrupted()
        except BaseException:
            await conn.close()
            raise
        return cls(shared, interrupted)

    @classmethod
    async def open_read_only(cls, path: str | Path) -> Database:
        """Open an existing file (or PostgreSQL database) for reading only, next to a running bot: no
        migration, no recovery."""
        if is_postgres_url(str(path)):
            shared = await PgConnection.open(str(path), migrate_schema=False)
            return cls(shared, [])
        try:
            conn = await aiosqlite.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
        except sqlite3.OperationalError:
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
        return cls(SharedConnection(conn), [])

    async def close(self) -> None:
        """Wait for the statements in flight, then close the connection(s)."""
        await self._shared.close()

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
