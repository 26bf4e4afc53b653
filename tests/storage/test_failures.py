"""Each backend names the database's own faults (StorageFailure.kind) from real faults, and lets a
statement's errors (a constraint, bad SQL) through unchanged: those are bugs, not storage failing."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import asyncpg
import pytest
import pytest_asyncio

from storage import Database
from storage.connection import SharedConnection
from storage.errors import StorageFailure
from storage.models import ChannelKey
from storage.postgres import PgConnection
from tests.faults import SmallDisk, lock_held

CHANNEL = ChannelKey("slack", "T1", "C1")


async def _shared(path: Path) -> SharedConnection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA busy_timeout = 100")
    return SharedConnection(conn)


@pytest_asyncio.fixture
async def notes(tmp_path: Path) -> AsyncIterator[SharedConnection]:
    shared = await _shared(tmp_path / "notes.db")
    await shared.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    yield shared
    await shared.close()


async def test_a_write_while_another_process_holds_the_lock_is_a_locked_failure(
        notes: SharedConnection, tmp_path: Path) -> None:
    async with lock_held(tmp_path / "notes.db"):
        with pytest.raises(StorageFailure) as caught:
            await notes.execute("INSERT INTO notes (text) VALUES ('held')")
    assert caught.value.kind == "locked"
    assert caught.value.reason == "another program holds a lock on the database"


async def test_a_write_to_a_database_opened_read_only_is_a_read_only_failure(tmp_path: Path) -> None:
    path = tmp_path / "moa.db"
    await (await Database.open(path)).close()
    db = await Database.open_read_only(path)
    try:
        with pytest.raises(StorageFailure) as caught:
            await db.turns.add(CHANNEL, "t1", "user", "ann", "hello")
    finally:
        await db.close()
    assert caught.value.kind == "read_only"


async def test_a_write_on_a_full_disk_is_a_disk_full_failure(tmp_path: Path) -> None:
    with SmallDisk(tmp_path / "disk") as disk:
        shared = await _shared(disk.path / "notes.db")
        try:
            await shared.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
            disk.fill()
            with pytest.raises(StorageFailure) as caught:
                async with shared.transaction() as tx:
                    await tx.executemany("INSERT INTO notes (text) VALUES (?)", [("x" * 4000,)] * 2000)
        finally:
            disk.free()
            await shared.close()
    assert caught.value.kind == "disk_full" and caught.value.reason == "the disk is full"


async def test_a_file_that_is_not_a_database_is_a_damaged_failure(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are someone's notes, not a database\n" * 200)
    shared = await _shared_plain(path)
    try:
        with pytest.raises(StorageFailure) as caught:
            await shared.fetchall("SELECT * FROM sqlite_master")
    finally:
        await shared.close()
    assert caught.value.kind == "damaged"


async def _shared_plain(path: Path) -> SharedConnection:
    return SharedConnection(await aiosqlite.connect(path, isolation_level=None))


async def test_a_closed_connection_is_a_closed_failure(notes: SharedConnection) -> None:
    await notes.close()
    with pytest.raises(StorageFailure) as caught:
        await notes.fetchall("SELECT * FROM notes")
    assert caught.value.kind == "closed"


async def test_constraint_and_sql_errors_pass_through_unchanged(notes: SharedConnection) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await notes.execute("INSERT INTO notes (text) VALUES (NULL)")
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await notes.fetchall("SELECT * FROM no_such_table")


@pytest_asyncio.fixture
async def pg(postgres_url: str) -> AsyncIterator[PgConnection]:
    shared = await PgConnection.open(postgres_url)
    await shared.execute("CREATE TABLE notes (id SERIAL PRIMARY KEY, text TEXT NOT NULL)")
    yield shared
    await shared.close()


async def test_postgresql_connections_cut_by_the_server_are_a_connection_lost_failure(
        pg: PgConnection, postgres_admin_url: str) -> None:
    with pytest.raises(StorageFailure) as caught:
        async with pg.transaction() as tx:
            [(pid,)] = await tx.fetchall("SELECT pg_backend_pid()")
            admin = await asyncpg.connect(postgres_admin_url)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            await tx.fetchall("SELECT * FROM notes")
    assert caught.value.kind == "connection_lost"
    assert caught.value.reason == "the database server cannot be reached"


async def test_postgresql_read_only_and_lock_timeouts_are_typed(pg: PgConnection, postgres_url: str) -> None:
    with pytest.raises(StorageFailure) as read_only:
        async with pg.transaction() as tx:
            await tx.execute("SET TRANSACTION READ ONLY")
            await tx.execute("INSERT INTO notes (text) VALUES ('no')")
    assert read_only.value.kind == "read_only"

    holder = await asyncpg.connect(postgres_url)
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StorageFailure) as locked:
                async with pg.transaction() as tx:
                    await tx.execute("SET LOCAL lock_timeout = '50ms'")
                    await tx.execute("INSERT INTO notes (text) VALUES ('waits')")
    finally:
        await holder.close()
    assert locked.value.kind == "locked"


async def test_postgresql_constraint_and_sql_errors_pass_through_unchanged(pg: PgConnection) -> None:
    with pytest.raises(asyncpg.NotNullViolationError):
        await pg.execute("INSERT INTO notes (text) VALUES (NULL)")
    with pytest.raises(asyncpg.UndefinedTableError):
        await pg.fetchall("SELECT * FROM no_such_table")
