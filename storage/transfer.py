"""Copy a SQLite database into PostgreSQL (`moa-bot migrate`): every table, ids kept, idempotent.

Rows are inserted with ON CONFLICT DO NOTHING on their keys, so copying twice adds nothing the second
time, and a config changed on PostgreSQL since the first copy is not overwritten. Both databases are
opened at the current schema first (Database.open migrates them), so their tables match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.connection import SharedConnection
from storage.db import Database
from storage.postgres import PgConnection

# Parents before the tables that reference them; tables not named here (added later) follow in name order.
ORDER = ("configs", "config_changes", "turns", "runs", "proposer_outputs", "answer_messages", "event_keys",
         "experiments", "experiment_runs")
# Which processes are alive is not data to move: the PostgreSQL side keeps its own.
NOT_COPIED = frozenset({"owners", "leases", "schema_versions"})
BATCH = 1000


@dataclass(frozen=True)
class TableCopy:
    table: str
    in_source: int  # rows in the SQLite file
    copied: int  # rows added to PostgreSQL by this copy (the rest were there already)


async def copy_sqlite_to_postgres(source: Database, target: Database) -> list[TableCopy]:
    """Copy every row of `source` (SQLite) that `target` (PostgreSQL) lacks; returns what was copied per table."""
    sqlite, pg = source._shared, target._shared
    if not isinstance(sqlite, SharedConnection) or not isinstance(pg, PgConnection):
        raise TypeError("copy_sqlite_to_postgres copies from a SQLite database into a PostgreSQL one")
    columns = await _pg_columns(pg)
    present = {row[0] for row in await sqlite.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables = [t for t in ORDER if t in columns] + sorted(t for t in columns if t not in ORDER)
    report = []
    for table in tables:
        if table in NOT_COPIED or table not in present:
            continue
        report.append(await _copy_table(sqlite, pg, table, columns[table]))
    await _advance_identities(pg)
    return report


async def _pg_columns(pg: PgConnection) -> dict[str, dict[str, str]]:
    """Each table of the target's schema: its columns and their types."""
    rows = await pg.fetchall(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position")
    tables: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, {})[column] = data_type
    return tables


def _converter(data_type: str) -> Any:
    """SQLite stores what it was given; PostgreSQL wants each column's own type."""
    if data_type in ("bigint", "integer", "smallint"):
        return int
    if data_type in ("double precision", "real", "numeric"):
        return float
    return str


async def _copy_table(sqlite: SharedConnection, pg: PgConnection, table: str, types: dict[str, str]) -> TableCopy:
    names = [row[1] for row in await sqlite.fetchall(f"PRAGMA table_info({table})") if row[1] in types]
    convert = [_converter(types[name]) for name in names]
    listed = ", ".join(names)
    insert = (f"INSERT INTO {table} ({listed}) VALUES ({', '.join('?' for _ in names)})"
              " ON CONFLICT DO NOTHING")
    rows = await sqlite.fetchall(f"SELECT {listed} FROM {table}")
    count = f"SELECT count(*) FROM {table}"
    async with pg.transaction() as tx:
        before = (await tx.fetchall(count))[0][0]
        for start in range(0, len(rows), BATCH):
            batch = [tuple(None if value is None else cast(value) for cast, value in zip(convert, row, strict=True))
                     for row in rows[start:start + BATCH]]
            await tx.executemany(insert, batch)
        after = (await tx.fetchall(count))[0][0]
    return TableCopy(table, len(rows), int(after - before))


async def _advance_identities(pg: PgConnection) -> None:
    """Copied ids were given explicitly: move each id sequence past them, so new rows don't collide."""
    rows = await pg.fetchall(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND column_name = 'id' AND is_identity = 'YES'")
    for (table,) in rows:
        await pg.fetchall(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" GREATEST((SELECT MAX(id) FROM {table}), 1), (SELECT MAX(id) FROM {table}) IS NOT NULL)")
