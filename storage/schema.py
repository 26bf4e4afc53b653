"""Schema versions: `PRAGMA user_version` is the version, MIGRATIONS[n-1] takes a file from n-1 to n.

Migrations only ever move forward and are never edited once released: a file written by an older
version must open and keep its data. Add a new entry to change the schema.
"""

from __future__ import annotations

import aiosqlite

from storage.errors import StorageError

# v1 — the initial schema.
_V1 = (
    """CREATE TABLE configs (
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        config_json TEXT NOT NULL, changed_by TEXT NOT NULL, changed_at REAL NOT NULL,
        PRIMARY KEY (platform, workspace, channel)
    ) WITHOUT ROWID""",
    """CREATE TABLE config_changes (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        changed_by TEXT NOT NULL, changed_at REAL NOT NULL, summary TEXT NOT NULL
    )""",
    "CREATE INDEX config_changes_by_channel ON config_changes (platform, workspace, channel)",
    """CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL, thread TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        author TEXT NOT NULL, text TEXT NOT NULL, created_at REAL NOT NULL
    )""",
    "CREATE INDEX turns_by_thread ON turns (platform, workspace, channel, thread, created_at)",
    "CREATE INDEX turns_by_age ON turns (created_at)",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL, thread TEXT NOT NULL,
        trigger_message_id TEXT NOT NULL,
        answer_message_ids TEXT NOT NULL DEFAULT '[]',
        config_json TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
        question TEXT NOT NULL, answer TEXT, error TEXT,
        started_at REAL NOT NULL, finished_at REAL, total_s REAL,
        prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL
    )""",
    "CREATE INDEX runs_by_thread ON runs (platform, workspace, channel, thread)",
    "CREATE INDEX runs_by_age ON runs (started_at)",
    "CREATE INDEX runs_running ON runs (status) WHERE status = 'running'",
    """CREATE TABLE proposer_outputs (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        layer INTEGER NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL, text TEXT NOT NULL,
        latency_s REAL NOT NULL, prompt_tokens INTEGER, completion_tokens INTEGER, error TEXT,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE event_keys (
        key TEXT PRIMARY KEY, expires_at REAL NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX event_keys_by_expiry ON event_keys (expires_at)",
)

# v2 — answer message ids move from a JSON column to a lookup table, so "show layers" on any of an
# answer's messages is an index lookup; a run's trigger message and a channel's newest run are indexed.
_V2 = (
    """CREATE TABLE answer_messages (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        PRIMARY KEY (run_id, position),
        UNIQUE (run_id, message_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX answer_messages_by_message ON answer_messages (message_id)",
    """INSERT INTO answer_messages (run_id, position, message_id)
        SELECT runs.id, CAST(j.key AS INTEGER), CAST(j.value AS TEXT)
        FROM runs, json_each(runs.answer_message_ids) AS j""",
    "ALTER TABLE runs DROP COLUMN answer_message_ids",
    "CREATE INDEX runs_by_trigger ON runs (trigger_message_id)",
    # The newest run of a channel straight from the index, without sorting all its runs.
    "CREATE INDEX runs_by_channel ON runs (platform, workspace, channel, id)",
)

# v3 — every question is recorded before it waits: runs may be 'queued'; each run names the process that
# owns it (`owner`, a row of `owners`), who asked (to answer it again after a crash) and where its status
# message lives (`surface`, the adapter's JSON handle), so a restart can replace that status. SQLite
# cannot change a CHECK constraint in place, so runs is rebuilt (migrate() turns foreign keys off for it).
_V3 = (
    """CREATE TABLE owners (
        id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL,
        started_at REAL NOT NULL, heartbeat_at REAL NOT NULL
    )""",
    """CREATE TABLE runs_v3 (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL, thread TEXT NOT NULL,
        trigger_message_id TEXT NOT NULL,
        config_json TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'interrupted')),
        question TEXT NOT NULL, answer TEXT, error TEXT,
        started_at REAL NOT NULL, finished_at REAL, total_s REAL,
        prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL,
        owner TEXT, surface TEXT,
        author TEXT NOT NULL DEFAULT '', author_name TEXT NOT NULL DEFAULT ''
    )""",
    """INSERT INTO runs_v3 (id, platform, workspace, channel, thread, trigger_message_id, config_json, status,
        question, answer, error, started_at, finished_at, total_s, prompt_tokens, completion_tokens, cost_usd)
        SELECT id, platform, workspace, channel, thread, trigger_message_id, config_json, status,
        question, answer, error, started_at, finished_at, total_s, prompt_tokens, completion_tokens, cost_usd
        FROM runs""",
    "DROP TABLE runs",
    "ALTER TABLE runs_v3 RENAME TO runs",
    "CREATE INDEX runs_by_thread ON runs (platform, workspace, channel, thread)",
    "CREATE INDEX runs_by_age ON runs (started_at)",
    "CREATE INDEX runs_unfinished ON runs (status) WHERE status IN ('queued', 'running')",
    "CREATE INDEX runs_by_trigger ON runs (trigger_message_id)",
    "CREATE INDEX runs_by_channel ON runs (platform, workspace, channel, id)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(StorageError, RuntimeError):
    """The file was written by a newer moa-bot; opening it could lose data, so we refuse."""


async def migrate(conn: aiosqlite.Connection) -> int:
    """Bring the file to SCHEMA_VERSION, one transaction per step; returns the version found at open."""
    rows = list(await conn.execute_fetchall("PRAGMA user_version"))
    found = int(rows[0][0])
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database schema v{found} is newer than this moa-bot understands (v{SCHEMA_VERSION}); upgrade"
        )
    if found == SCHEMA_VERSION:
        return found
    # A table rebuild (v3) drops a parent table: with foreign keys on, that would cascade-delete its
    # children. The pragma only takes effect outside a transaction; each step checks the keys itself.
    await conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for version in range(found + 1, SCHEMA_VERSION + 1):
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[version - 1]:
                    await conn.execute(statement)
                broken = list(await conn.execute_fetchall("PRAGMA foreign_key_check"))
                if broken:
                    raise StorageError(f"migration to v{version} broke {len(broken)} references")
                # user_version lives in the file header and is part of the transaction.
                await conn.execute(f"PRAGMA user_version = {version}")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
    finally:
        await conn.execute("PRAGMA foreign_keys = ON")
    return found
