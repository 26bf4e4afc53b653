"""Schema versions: `PRAGMA user_version` is the version, MIGRATIONS[n-1] takes a file from n-1 to n.

Migrations only ever move forward and are never edited once released: a file written by an older
version must open and keep its data. Add a new entry to change the schema.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.errors import StorageError


@dataclass(frozen=True)
class LoosenCheck:
    """A migration step that rewrites a table's CHECK constraint text in place — SQLite's documented way
    (sqlite.org/lang_altertable.html) for changes every stored row already satisfies, such as allowing one
    more status. Unlike a table rebuild it keeps every column, whoever added it."""

    table: str
    old: str
    new: str


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

# v3 — usage, budgets and feedback. A run remembers who asked and a label for its config (a preset's name
# or a short fingerprint), so budgets count a member's answers and usage compares configs. Finished runs
# are folded once (`usage_counted`) into small per-day tables, so `/moa usage` reads at most a few
# hundred rows however many runs are stored (and its numbers outlive pruning). Votes: one per member
# per run, a second press replaces it. Budgets: per channel; NULL means "the deployment's default".
_V3 = (
    "ALTER TABLE runs ADD COLUMN author TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE runs ADD COLUMN config_label TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE runs ADD COLUMN usage_counted INTEGER NOT NULL DEFAULT 0",
    # Covering indexes for the budget check: today's tokens of a channel, today's answers of a member.
    "CREATE INDEX runs_by_channel_time ON runs (platform, workspace, channel, started_at, prompt_tokens,"
    " completion_tokens)",
    "CREATE INDEX runs_by_author ON runs (platform, workspace, channel, author, started_at, status)",
    "CREATE INDEX runs_uncounted ON runs (id) WHERE usage_counted = 0",
    """CREATE TABLE votes (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        member TEXT NOT NULL,
        vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        voted_at REAL NOT NULL,
        PRIMARY KEY (run_id, member)
    ) WITHOUT ROWID""",
    """CREATE TABLE budgets (
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        member_answers INTEGER, channel_tokens INTEGER,
        changed_by TEXT NOT NULL, changed_at REAL NOT NULL,
        PRIMARY KEY (platform, workspace, channel)
    ) WITHOUT ROWID""",
    # day = UTC days since 1970-01-01 (floor(started_at / 86400)) of the run's start.
    """CREATE TABLE usage_configs (
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        day INTEGER NOT NULL, config_label TEXT NOT NULL,
        answers INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
        calls INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0, unpriced INTEGER NOT NULL DEFAULT 0,
        up INTEGER NOT NULL DEFAULT 0, down INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (platform, workspace, channel, day, config_label)
    ) WITHOUT ROWID""",
    """CREATE TABLE usage_models (
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        day INTEGER NOT NULL, model TEXT NOT NULL,
        calls INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (platform, workspace, channel, day, model)
    ) WITHOUT ROWID""",
    # Answer times as a histogram (bucket = round(log(seconds) / log(1.05))): medians and p95 from a
    # few hundred rows instead of every run.
    """CREATE TABLE usage_latency (
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        day INTEGER NOT NULL, config_label TEXT NOT NULL, bucket INTEGER NOT NULL,
        answers INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (platform, workspace, channel, day, config_label, bucket)
    ) WITHOUT ROWID""",
    "CREATE INDEX usage_configs_by_day ON usage_configs (day)",
    "CREATE INDEX usage_models_by_day ON usage_models (day)",
    "CREATE INDEX usage_latency_by_day ON usage_latency (day)",
)

# v4 — every question is recorded before it waits: runs may be 'queued'; each run names the process that
# owns it (`owner`, a row of `owners`), who asked (to answer it again after a crash) and where its status
# message lives (`surface`, the adapter's JSON handle), so a restart can replace that status. Only
# additions: the CHECK is loosened in place (no table rebuild), so columns other migrations add to runs
# are kept whatever order migrations are merged in.
_V4 = (
    """CREATE TABLE owners (
        id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL,
        started_at REAL NOT NULL, heartbeat_at REAL NOT NULL
    )""",
    LoosenCheck("runs", "CHECK (status IN ('running', 'done', 'failed', 'interrupted'))",
                "CHECK (status IN ('queued', 'running', 'done', 'failed', 'interrupted'))"),
    "ALTER TABLE runs ADD COLUMN owner TEXT",
    "ALTER TABLE runs ADD COLUMN surface TEXT",
    "ALTER TABLE runs ADD COLUMN author_name TEXT NOT NULL DEFAULT ''",
    "DROP INDEX runs_running",
    "CREATE INDEX runs_unfinished ON runs (status) WHERE status IN ('queued', 'running')",
)

# v5 — experiments in a channel: two arms (each a name and its config JSON) answer in turn, and each run
# an experiment answered records its arm. At most one experiment runs per channel. Only new tables.
_V5_EXPERIMENTS = (
    """CREATE TABLE experiments (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        arm_a TEXT NOT NULL, config_a TEXT NOT NULL, arm_b TEXT NOT NULL, config_b TEXT NOT NULL,
        started_by TEXT NOT NULL, started_at REAL NOT NULL, stopped_at REAL, adopted TEXT,
        turns INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE UNIQUE INDEX experiments_running ON experiments (platform, workspace, channel) WHERE stopped_at IS NULL",
    """CREATE TABLE experiment_runs (
        run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        arm TEXT NOT NULL CHECK (arm IN ('A', 'B'))
    )""",
    "CREATE INDEX experiment_runs_by_experiment ON experiment_runs (experiment_id)",
)

# v6 (cached) — the prompt tokens a provider served from its prefix cache (Groq: not counted against
# tokens per minute, half price), beside input and output wherever usage is kept; and whether a layer's
# answer stopped at the config's max_tokens (the layer view marks it). Only additions.
_V6_CACHED = (
    "ALTER TABLE runs ADD COLUMN cached_tokens INTEGER",
    "ALTER TABLE proposer_outputs ADD COLUMN cut INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE proposer_outputs ADD COLUMN cached_tokens INTEGER",
    "ALTER TABLE usage_configs ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE usage_models ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0",
)

# v7 — Slack's assistant pane: what each assistant thread is looking at (the channel the person was viewing),
# kept here rather than in one process's memory so any replica can answer the thread.
_V7_ASSISTANT = (
    """CREATE TABLE assistant_threads (
        workspace TEXT NOT NULL, channel TEXT NOT NULL, thread TEXT NOT NULL,
        context_json TEXT NOT NULL, updated_at REAL NOT NULL,
        PRIMARY KEY (workspace, channel, thread)
    ) WITHOUT ROWID""",
)

# v8 (estimated) — whether a call's or a run's tokens were estimated from the text because the server
# streamed no usage (`moa.events.Usage.estimated`), and in the rollups how many answers and calls were,
# so the layer view, the console and usage reports can mark such totals with ≈. Only additions.
_V8_ESTIMATED = (
    "ALTER TABLE runs ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE proposer_outputs ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE usage_configs ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE usage_models ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0",
)

# v9 (answer model) — the model that wrote a run's answer: the config's aggregator, or its fallback when
# the aggregator failed. Usage credited the config's aggregator with every answer (and so with calls and
# tokens a failed aggregator never produced); NULL (runs stored before) still means the config's aggregator.
_V9_ANSWER_MODEL = (
    "ALTER TABLE runs ADD COLUMN answer_model TEXT",
)

# v10 (queued) — of a proposer's time, what it waited for a busy server (one call at a time) or its budget,
# so the layer view shows the server's time and the wait apart. Only an addition.
_V10_QUEUED = (
    "ALTER TABLE proposer_outputs ADD COLUMN queued_s REAL NOT NULL DEFAULT 0",
)

MIGRATIONS: tuple[tuple[str | LoosenCheck, ...], ...] = (_V1, _V2, _V3, _V4, _V5_EXPERIMENTS, _V6_CACHED,
                                                         _V7_ASSISTANT, _V8_ESTIMATED, _V9_ANSWER_MODEL,
                                                         _V10_QUEUED)
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
    for version in range(found + 1, SCHEMA_VERSION + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1]:
                if isinstance(statement, LoosenCheck):
                    await _loosen_check(conn, statement)
                else:
                    await conn.execute(statement)
            # user_version lives in the file header and is part of the transaction.
            await conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
    return found


async def _loosen_check(conn: aiosqlite.Connection, step: LoosenCheck) -> None:
    """Rewrite `step.table`'s CHECK text (inside the migration's transaction); bump schema_version so
    every connection reloads the schema."""
    rows = list(await conn.execute_fetchall("PRAGMA schema_version"))
    await conn.execute("PRAGMA writable_schema = ON")
    try:
        cursor = await conn.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, ?, ?)"
            " WHERE type = 'table' AND name = ? AND instr(sql, ?) > 0",
            (step.old, step.new, step.table, step.old))
        if cursor.rowcount != 1:
            raise StorageError(f"the {step.table} table does not have the constraint {step.old}")
        await conn.execute(f"PRAGMA schema_version = {int(rows[0][0]) + 1}")
    finally:
        await conn.execute("PRAGMA writable_schema = OFF")
