"""The one shared aiosqlite connection and the lock that makes it one transaction scope at a time."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import aiosqlite

from storage.errors import StorageFailure, sqlite_failure

Params = Sequence[Any]
PROBE_TIMEOUT_S = 3.0  # a health check waits this long for the lock and one read


@contextmanager
def _faults(closed: bool = False) -> Iterator[None]:
    """SQLite's own failures (locked, full, read-only, damaged, closed) as StorageFailure; a statement's
    errors (constraints, SQL) pass through unchanged."""
    if closed:
        raise StorageFailure("closed")
    try:
        yield
    except sqlite3.Error as err:
        failure = sqlite_failure(err)
        if failure is None:
            raise
        raise failure from err


class SharedConnection:
    """Serialises every statement on one connection.

    A shared connection has a single transaction scope: a write from one task issued while another task
    is between BEGIN and COMMIT would silently join (and maybe roll back with) that transaction. So every
    operation — single statement or transaction — runs under one asyncio.Lock. The connection runs in
    autocommit mode (isolation_level=None): single statements commit by themselves, transactions are
    explicit BEGIN IMMEDIATE … COMMIT.
    """

    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.raw = conn
        self.lock = asyncio.Lock()
        self.closed = False

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self.lock:
            with _faults(self.closed):
                return list(await self.raw.execute_fetchall(sql, params))

    async def probe(self) -> None:
        """One real read of the file through this connection; StorageFailure when it does not answer."""
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                await self.fetchall("SELECT count(*) FROM sqlite_master")
        except TimeoutError:
            raise StorageFailure("locked", f"no answer within {PROBE_TIMEOUT_S:g} s") from None

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall_write(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run one writing statement that returns rows (… RETURNING); it commits on its own."""
        async with self.lock:
            with _faults(self.closed):
                cursor = await self.raw.execute(sql, params)
                rows = list(await cursor.fetchall())
                await cursor.close()
                return rows

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement (it commits on its own); returns the number of rows changed."""
        async with self.lock:
            with _faults(self.closed):
                cursor = await self.raw.execute(sql, params)
                return cursor.rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT; returns the new row id."""
        async with self.lock:
            with _faults(self.closed):
                cursor = await self.raw.execute(sql, params)
            rowid = cursor.lastrowid
            assert rowid is not None
            return rowid

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """`async with shared.transaction() as tx:` — all of tx's statements commit together or not at all."""
        async with self.lock:
            with _faults(self.closed):
                try:
                    await self.raw.execute("BEGIN IMMEDIATE")
                    yield Transaction(self.raw)
                    await self.raw.execute("COMMIT")
                except BaseException:
                    await self._rollback()
                    raise

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Transaction]:
        """Several reads under one lock hold: no write of this process lands between them."""
        async with self.lock:
            with _faults(self.closed):
                yield Transaction(self.raw)

    async def close(self) -> None:
        """Wait for the statement in flight, then close the connection."""
        async with self.lock:
            self.closed = True
            await self.raw.close()

    async def _rollback(self) -> None:
        # A task cancelled while awaiting BEGIN or COMMIT leaves that statement queued on the SQLite
        # thread; the queue is FIFO, so this ROLLBACK runs after it. If nothing is open (COMMIT went
        # through, or BEGIN never ran), SQLite says so and there is nothing to undo.
        try:
            await self.raw.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):
                raise


class Transaction:
    """Statements issued inside SharedConnection.transaction() (the lock is already held)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        with _faults():
            cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        with _faults():
            cursor = await self._conn.executemany(sql, rows)
        return cursor.rowcount

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        with _faults():
            return list(await self._conn.execute_fetchall(sql, params))
