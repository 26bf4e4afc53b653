"""Storage problems as sentences: what is wrong with which file, and how to fix it.

`StorageError` is raised at start-up (the process cannot use its database and says why, exit 2).
`StorageFailure` is raised at run time by both connection wrappers (storage/connection.py,
storage/postgres.py) for the faults of the database itself — locked, disk full, read-only, connection
lost, closed, damaged — so callers can retry or degrade on those and let programming errors surface.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

import asyncpg

FailureKind = Literal["locked", "disk_full", "read_only", "connection_lost", "closed", "damaged", "missing"]

_REASONS: dict[FailureKind, str] = {
    "locked": "another program holds a lock on the database",
    "disk_full": "the disk is full",
    "read_only": "the database became read-only",
    "connection_lost": "the database server cannot be reached",
    "closed": "the database is closed",
    "damaged": "the database file is damaged or cannot be read",
    "missing": "the database file was moved, removed or replaced",
}

# SQLite's primary result codes (sqlite3.h); extended codes carry the primary one in their low byte.
_SQLITE_KINDS: dict[int, FailureKind] = {
    5: "locked",  # SQLITE_BUSY
    6: "locked",  # SQLITE_LOCKED
    8: "read_only",  # SQLITE_READONLY
    10: "damaged",  # SQLITE_IOERR
    11: "damaged",  # SQLITE_CORRUPT
    13: "disk_full",  # SQLITE_FULL
    26: "damaged",  # SQLITE_NOTADB
}

_PG_KINDS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], FailureKind], ...] = (
    (asyncpg.DiskFullError, "disk_full"),
    (asyncpg.ReadOnlySQLTransactionError, "read_only"),
    ((asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError), "locked"),
    ((asyncpg.PostgresConnectionError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
      asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError), "connection_lost"),
)


class StorageError(Exception):
    """The database cannot be used; the message names the file and the fix."""


class DatabaseInUse(StorageError):
    """Another process already serves this database file."""


class StorageFailure(Exception):
    """The database failed at run time (not a bug of the caller): `kind` says how, `reason` in words."""

    def __init__(self, kind: FailureKind, detail: str = "") -> None:
        self.kind: FailureKind = kind
        self.detail = detail
        super().__init__(f"{self.reason} ({detail})" if detail else self.reason)

    @property
    def reason(self) -> str:
        """A short reason, e.g. "the disk is full"."""
        return _REASONS[self.kind]


def sqlite_failure(err: sqlite3.Error) -> StorageFailure | None:
    """The StorageFailure a SQLite error means, or None for errors of the statement (constraints, SQL)."""
    if isinstance(err, sqlite3.ProgrammingError) and err.sqlite_errorcode is None and "closed" in str(err):
        return StorageFailure("closed", str(err))  # sqlite3's own "Cannot operate on a closed database."
    code = err.sqlite_errorcode
    kind = _SQLITE_KINDS.get(code & 0xFF) if code is not None else None
    return StorageFailure(kind, str(err)) if kind is not None else None


def postgres_failure(err: BaseException) -> StorageFailure | None:
    """The StorageFailure an asyncpg (or socket) error means, or None for errors of the statement."""
    for types, kind in _PG_KINDS:
        if isinstance(err, types):
            return StorageFailure(kind, str(err))
    if isinstance(err, ValueError):  # asyncpg's InterfaceError for a bad parameter is a ValueError: a bug
        return None
    if isinstance(err, asyncpg.InterfaceError | OSError | TimeoutError):
        return StorageFailure("connection_lost", str(err) or type(err).__name__)
    return None


def is_storage_failure(err: BaseException) -> bool:
    """True for failures of the database (disk full, locked, damaged…), as opposed to bugs."""
    return isinstance(err, StorageFailure | StorageError)


def describe(err: BaseException) -> str:
    """A short reason for a failure at run time, e.g. "the disk is full"."""
    if isinstance(err, StorageFailure):
        return err.reason
    if isinstance(err, StorageError):
        return str(err)
    return "an unexpected error (the log has the details)"
