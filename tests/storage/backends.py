"""What storage tests need to look at either backend the same way."""

from __future__ import annotations

import sqlite3

import asyncpg

from storage import Database

# What a violated constraint raises, per backend.
INTEGRITY_ERRORS = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


async def count_rows(db: Database, table: str) -> int:
    """How many rows `table` holds, on either backend."""
    row = await db._shared.fetchone(f"SELECT count(*) FROM {table}")
    return int(row[0])
