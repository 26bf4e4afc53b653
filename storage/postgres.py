"""PostgreSQL behind the storage interface (storage/backend.py): an asyncpg pool that speaks `?` SQL.

Several processes may share one database, so nothing here relies on a process-local lock: single
statements commit on their own, transactions run on one pooled connection, and the database's own
constraints decide races (e.g. two replicas claiming one Slack event).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Literal

import asyncpg

from storage.backend import Params, Row
from storage.errors import StorageError, StorageFailure, postgres_failure
from storage.pg_schema import check_current, migrate
from storage.urls import MASK, mask_passwords, url_passwords

POOL_SIZE = 10  # connections per process; a run holds one only for the length of a statement or transaction
CONNECT_TIMEOUT_S = 10.0  # a server that accepts but never answers is named silent after this
URL_SCHEMES = ("postgresql://", "postgres://")
PROBE_TIMEOUT_S = 3.0  # a health check waits this long for a connection and `SELECT 1`

# A `?` outside quotes: the repositories' placeholders. Quoted strings and identifiers are skipped whole.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?")


def is_postgres_url(target: str) -> bool:
    """Whether `target` names a PostgreSQL database rather than a SQLite file."""
    return target.startswith(URL_SCHEMES)


@functools.lru_cache(maxsize=512)
def to_numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …`."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) != "?":
            return match.group(0)
        count += 1
        return f"${count}"

    return _TOKEN.sub(number, sql)


def _number(text: str) -> int | float:
    """A numeric value (e.g. the SUM of a BIGINT column) as the int or float SQLite would give."""
    return int(text) if text.lstrip("-").isdigit() else float(text)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("numeric", encoder=str, decoder=_number, schema="pg_catalog", format="text")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's session reset (RESET ALL, UNLISTEN …): a round trip per
    statement, for session state this code never changes. An open transaction is still rolled back."""


def _rowcount(status: str) -> int:
    """asyncpg's command tag ("UPDATE 3", "INSERT 0 1", "DELETE 0") as a number of rows."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


@contextmanager
def _faults(closed: bool = False) -> Iterator[None]:
    """The server's and the network's failures (disk full, read-only, locks, a lost connection) as
    StorageFailure; a statement's errors (constraints, SQL) pass through unchanged."""
    if closed:
        raise StorageFailure("closed")
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as err:
        failure = postgres_failure(err)
        if failure is None:
            raise
        raise failure from err


class DatabaseUnreachable(StorageError):
    """MOA_DATABASE_URL names a server that could not be used; the message says which and why."""


def connect_reason(err: BaseException, url: str) -> str:
    """Why connecting failed, for a sentence: never empty, never the password."""
    if isinstance(err, TimeoutError):
        return (f"the server accepted the connection but stayed silent for {CONNECT_TIMEOUT_S:g} s "
                "(is that port a PostgreSQL server, and is it up?)")
    if isinstance(err, ValueError | OverflowError):  # asyncpg's reading of the URL: "Invalid IPv6 URL", a port
        text = f"the URL cannot be read ({str(err).rstrip('.') or type(err).__name__})"
    else:
        text = str(err).rstrip(".") or type(err).__name__
    for secret in url_passwords(url):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return mask_passwords(text)


def redacted(url: str) -> str:
    """The URL without its password (in any form libpq reads, storage/urls.py), for messages and logs."""
    return mask_passwords(url)


class PgStatements:
    """Statements on one pooled connection, inside a transaction or a snapshot."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        with _faults():
            return _rowcount(await self._conn.execute(to_numbered(sql), *params))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        """Run the statement once per row (pipelined); returns how many rows were sent."""
        batch = list(rows)
        if batch:
            with _faults():
                await self._conn.executemany(to_numbered(sql), batch)
        return len(batch)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        with _faults():
            return list(await self._conn.fetch(to_numbered(sql), *params))

    async def fetchall_write(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.fetchall(sql, params)


class PgConnection:
    """The storage interface over an asyncpg pool."""

    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.closed = False

    @classmethod
    async def open(cls, url: str, *, migrate_schema: bool = True) -> PgConnection:
        """Connect to `url` and migrate the database forward (or, read-only, check it is up to date).

        Raises DatabaseUnreachable with a sentence when the server cannot be used.
        """
        try:
            # A port that accepts but never answers would hold start-up for asyncpg's 60 s.
            pool = await asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE, init=_init_connection,
                                             reset=_keep_session, timeout=CONNECT_TIMEOUT_S)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError, OverflowError) as err:
            raise DatabaseUnreachable(
                f"Cannot connect to the PostgreSQL database {redacted(url)} (MOA_DATABASE_URL): "
                f"{connect_reason(err, url)}. Check that the server runs, the URL's host, port, user, password and "
                "database name, and that the database exists.") from None
        try:
            async with pool.acquire() as conn:
                if migrate_schema:
                    await migrate(conn)
                else:
                    await check_current(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        with _faults(self.closed):
            return list(await self.pool.fetch(to_numbered(sql), *params))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        with _faults(self.closed):
            return await self.pool.fetchrow(to_numbered(sql), *params)

    async def probe(self) -> None:
        """`SELECT 1` on a pooled connection (a dead one is replaced by a new one); StorageFailure when the
        server does not answer within PROBE_TIMEOUT_S."""
        with _faults(self.closed):
            async with asyncio.timeout(PROBE_TIMEOUT_S):  # reconnecting to a stopped server may take long
                await self.pool.fetchval("SELECT 1")

    async def fetchall_write(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one writing statement that returns rows (… RETURNING); it commits on its own."""
        return await self.fetchall(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        with _faults(self.closed):
            return _rowcount(await self.pool.execute(to_numbered(sql), *params))

    async def insert(self, sql: str, params: Params = ()) -> int:
        with _faults(self.closed):
            new_id = await self.pool.fetchval(to_numbered(sql) + " RETURNING id", *params)
        return int(new_id)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgStatements]:
        with _faults(self.closed):
            async with self.pool.acquire() as conn, conn.transaction():
                yield PgStatements(conn)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PgStatements]:
        with _faults(self.closed):
            async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                yield PgStatements(conn)

    async def close(self) -> None:
        """Wait for the statements in flight, then close every connection."""
        self.closed = True
        await self.pool.close()
