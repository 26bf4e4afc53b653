"""Storage problems as sentences: what is wrong with which file, and how to fix it.

`StorageError` is raised at start-up (the process cannot use its database and says why, exit 2);
`is_busy` / `describe` classify failures at run time so the service can retry or degrade.
"""

from __future__ import annotations

import sqlite3

import asyncpg

# PostgreSQL's side: errors the server reports, a pooled connection gone, the server unreachable.
_PG_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class StorageError(Exception):
    """The database cannot be used; the message names the file and the fix."""


class DatabaseInUse(StorageError):
    """Another process already serves this database file."""


def is_storage_failure(err: BaseException) -> bool:
    """True for errors the database raised (disk full, locked, damaged…), as opposed to bugs."""
    return isinstance(err, (sqlite3.Error, StorageError, *_PG_FAILURES))


def is_busy(err: BaseException) -> bool:
    """True for "database is locked" / "busy": another connection holds the write lock (retry may help)."""
    if isinstance(err, asyncpg.TransactionRollbackError | asyncpg.LockNotAvailableError):
        return True  # PostgreSQL: a deadlock or serialization conflict with another replica
    return isinstance(err, sqlite3.OperationalError) and any(
        word in str(err).lower() for word in ("locked", "busy"))


def describe(err: BaseException) -> str:
    """A short reason for a storage failure at run time, e.g. "the disk is full"."""
    text = str(err).lower()
    if isinstance(err, UnicodeError):
        return "the text could not be encoded"
    if "full" in text:
        return "the disk is full"
    if "locked" in text or "busy" in text:
        return "another program holds a lock on the database"
    if "readonly" in text or "read-only" in text:
        return "the database became read-only"
    if "malformed" in text or "not a database" in text:
        return "the database file is damaged"
    if "closed" in text:
        return "the database is closed"
    if isinstance(err, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | OSError):
        return "the database server cannot be reached"
    return f"storage failed ({type(err).__name__})"
