"""The storage interface both backends implement: SQL with `?` placeholders, rows indexed by position.

Repositories speak only this: `SharedConnection` (one aiosqlite connection, storage/connection.py) and
`PgConnection` (an asyncpg pool, storage/postgres.py) both satisfy it, so each query is written once.
The SQL must be portable: `?` placeholders, `INSERT … ON CONFLICT`, `RETURNING`, no SQLite-only functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol

Params = Sequence[Any]
Row = Any  # sqlite3.Row or asyncpg.Record: both index by position
Dialect = Literal["sqlite", "postgresql"]


class Statements(Protocol):
    """Statements issued inside a transaction or a snapshot."""

    async def execute(self, sql: str, params: Params = ()) -> int: ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...


class Connection(Protocol):
    """What the repositories use. Single statements commit by themselves."""

    @property
    def dialect(self) -> Dialect: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement; returns the number of rows changed."""
        ...

    async def fetchall_write(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one writing statement that returns rows (… RETURNING); it commits on its own."""
        ...

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT into a table with an `id` key; returns the new id."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Statements]:
        """All statements commit together or not at all."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[Statements]:
        """Several reads that see one state of the database (no write lands between them)."""
        ...

    async def probe(self) -> None:
        """One real round trip to the database, bounded in time; StorageFailure when it fails."""
        ...

    async def close(self) -> None: ...
