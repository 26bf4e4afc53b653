from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from storage import SCHEMA_VERSION, ChannelKey, Database, StorageError, schema

CHANNEL = ChannelKey("slack", "T01", "C01")

# The schema as moa-bot v1 wrote it, frozen here on purpose: this is what old files on disk look like.
V1_FILE_SQL = """
CREATE TABLE configs (
    platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
    config_json TEXT NOT NULL, changed_by TEXT NOT NULL, changed_at REAL NOT NULL,
    PRIMARY KEY (platform, workspace, channel)
) WITHOUT ROWID;
CREATE TABLE config_changes (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
    changed_by TEXT NOT NULL, changed_at REAL NOT NULL, summary TEXT NOT NULL
);
CREATE INDEX config_changes_by_channel ON config_changes (platform, workspace, channel);
CREATE TABLE turns (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL, thread TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    author TEXT NOT NULL, text TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX turns_by_thread ON turns (platform, workspace, channel, thread, created_at);
CREATE INDEX turns_by_age ON turns (created_at);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL, thread TEXT NOT NULL,
    trigger_message_id TEXT NOT NULL,
    answer_message_ids TEXT NOT NULL DEFAULT '[]',
    config_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
    question TEXT NOT NULL, answer TEXT, error TEXT,
    started_at REAL NOT NULL, finished_at REAL, total_s REAL,
    prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL
);
CREATE INDEX runs_by_thread ON runs (platform, workspace, channel, thread);
CREATE INDEX runs_by_age ON runs (started_at);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
CREATE TABLE proposer_outputs (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    layer INTEGER NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL, text TEXT NOT NULL,
    latency_s REAL NOT NULL, prompt_tokens INTEGER, completion_tokens INTEGER, error TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE event_keys (key TEXT PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX event_keys_by_expiry ON event_keys (expires_at);

INSERT INTO configs VALUES ('slack', 'T01', 'C01', '{"layers": 2}', 'U-admin', 1000.0);
INSERT INTO configs VALUES ('slack', 'T01', '*', '{"layers": 4}', 'U-owner', 900.0);
INSERT INTO config_changes VALUES (1, 'slack', 'T01', 'C01', 'U-admin', 1000.0, 'layers 2');
INSERT INTO turns VALUES (1, 'slack', 'T01', 'C01', '1700.1', 'user', 'U1', 'Is 9.11 > 9.9?', 1000.0);
INSERT INTO turns VALUES (2, 'slack', 'T01', 'C01', '1700.1', 'assistant', 'bot', 'No.', 1001.0);
INSERT INTO runs VALUES (7, 'slack', 'T01', 'C01', '1700.1', 'M-q', '["M-a1", "M-a2"]', '{"layers": 2}',
    'done', 'Is 9.11 > 9.9?', 'No.', NULL, 1000.0, 1005.0, 5.0, 300, 60, 0.0002);
INSERT INTO runs VALUES (8, 'slack', 'T01', 'C01', '1700.1', 'M-q2', '[]', '{}',
    'running', 'And 9.8?', NULL, NULL, 1010.0, NULL, NULL, NULL, NULL, NULL);
INSERT INTO proposer_outputs VALUES (7, 0, 1, 'a', 'openai/gpt-oss-20b', '9.9 is larger', 1.5, 100, 20, NULL);
INSERT INTO proposer_outputs VALUES (7, 1, 1, 'b', 'openai/gpt-oss-120b', '', 2.0, NULL, NULL, 'timeout');
INSERT INTO event_keys VALUES ('slack:Ev01', 9e12);
PRAGMA user_version = 1;
"""


def _write_v1_file(path: Path) -> None:
    with closing(sqlite3.connect(path)) as raw:
        raw.executescript(V1_FILE_SQL)


async def test_v1_file_opens_with_its_data(db_path: Path) -> None:
    _write_v1_file(db_path)

    db = await Database.open(db_path)
    try:
        config = await db.configs.get(CHANNEL)
        default = await db.configs.effective(ChannelKey("slack", "T01", "C99"))
        history = await db.turns.history(CHANNEL, "1700.1", 1000)
        run = await db.runs.find_by_message(CHANNEL, "M-a2")
        interrupted_at_open = await db.runs.take_cut_off(db.owners.live_since(), by=db.owner)
        interrupted = await db.runs.get(8, CHANNEL)
        duplicate = await db.event_keys.claim("slack:Ev01")
    finally:
        await db.close()

    assert config is not None and (config.config_json, config.changed_by) == ('{"layers": 2}', "U-admin")
    assert default is not None and default.config_json == '{"layers": 4}'
    assert [(t.role, t.text) for t in history] == [("user", "Is 9.11 > 9.9?"), ("assistant", "No.")]
    assert run is not None and run.id == 7
    assert run.answer_message_ids == ("M-a1", "M-a2")
    assert [(p.agent, p.error) for p in run.proposers] == [("a", None), ("b", "timeout")]
    assert (run.answer, run.cost_usd) == ("No.", 0.0002)
    assert interrupted is not None and interrupted.status == "interrupted"
    assert len(interrupted_at_open) == 1
    assert duplicate is False
    with closing(sqlite3.connect(db_path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_migrated_file_takes_new_runs(db_path: Path) -> None:
    _write_v1_file(db_path)

    db = await Database.open(db_path)
    try:
        run_id = await db.runs.start(CHANNEL, "1700.1", "M-q3", "q", "{}")
        await db.runs.set_answer_messages(run_id, ["M-a3"])
        run = await db.runs.find_by_message(CHANNEL, "M-a3")
        latest = await db.runs.latest(CHANNEL, "1700.1")
    finally:
        await db.close()

    assert run is not None and run.id == run_id > 8
    assert latest is not None and latest.id == run_id


async def test_failed_migration_leaves_the_file_as_it_was(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_v1_file(db_path)
    broken = (*schema.MIGRATIONS, ("CREATE TABLE extra (x)", "this is not SQL"))
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(broken))

    with pytest.raises(StorageError, match="syntax error"):
        await Database.open(db_path)

    # v2 applied and committed; the broken v3 rolled back completely.
    with closing(sqlite3.connect(db_path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(broken) - 1
        assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name = 'extra'").fetchone()[0] == 0
        assert raw.execute("SELECT count(*) FROM runs").fetchone()[0] == 2


async def test_a_migrated_file_records_queued_runs_and_stays_intact(db_path: Path) -> None:
    _write_v1_file(db_path)

    db = await Database.open(db_path)
    try:
        run_id = await db.runs.start(CHANNEL, "1700.2", "M-q4", "q", "{}", status="queued", owner=db.owner,
                                     author="U1", author_name="Ann")
    finally:
        await db.close()

    with closing(sqlite3.connect(db_path)) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert raw.execute("SELECT status, author FROM runs WHERE id = ?", (run_id,)).fetchone() == ("queued", "U1")
        with pytest.raises(sqlite3.IntegrityError):  # the constraint still guards the other values
            raw.execute("UPDATE runs SET status = 'bogus' WHERE id = ?", (run_id,))
