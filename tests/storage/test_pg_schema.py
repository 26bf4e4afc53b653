"""PostgreSQL's migrations: the same version numbers as SQLite's, applied once even by replicas starting together."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from storage import SCHEMA_VERSION, ChannelKey, Database, SchemaTooNew, pg_schema, schema

CHANNEL = ChannelKey("slack", "T01", "C01")

V1_DATA = (
    "INSERT INTO configs VALUES ('slack', 'T01', 'C01', '{\"layers\": 2}', 'U-admin', 1000.0)",
    "INSERT INTO turns (id, platform, workspace, channel, thread, role, author, text, created_at)"
    " VALUES (1, 'slack', 'T01', 'C01', '1700.1', 'user', 'U1', 'Is 9.11 > 9.9?', 1000.0)",
    "INSERT INTO runs (id, platform, workspace, channel, thread, trigger_message_id, answer_message_ids,"
    " config_json, status, question, answer, started_at)"
    " VALUES (7, 'slack', 'T01', 'C01', '1700.1', 'M-q', '[\"M-a1\", \"M-a2\"]', '{}', 'done', 'q', 'No.', 1000.0)",
    "INSERT INTO proposer_outputs VALUES (7, 0, 1, 'a', 'openai/gpt-oss-20b', '9.9 is larger', 1.5, 100, 20, NULL)",
    "INSERT INTO schema_versions VALUES (1, 1000.0)",
)


async def _versions(url: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        return [row[0] for row in await conn.fetch("SELECT version FROM schema_versions ORDER BY version")]
    finally:
        await conn.close()


async def _write_v1(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE schema_versions (version INTEGER PRIMARY KEY,"
                           " applied_at DOUBLE PRECISION NOT NULL)")
        for statement in (*pg_schema.PG_MIGRATIONS[0], *V1_DATA):
            await conn.execute(statement)
    finally:
        await conn.close()


def test_every_sqlite_migration_has_a_postgresql_twin() -> None:
    assert len(pg_schema.PG_MIGRATIONS) == len(schema.MIGRATIONS) == SCHEMA_VERSION


async def test_new_database_is_at_current_schema(postgres_url: str) -> None:
    db = await Database.open(postgres_url)
    await db.close()

    assert await _versions(postgres_url) == list(range(1, SCHEMA_VERSION + 1))


async def test_v1_database_opens_with_its_data(postgres_url: str) -> None:
    await _write_v1(postgres_url)

    db = await Database.open(postgres_url)
    try:
        config = await db.configs.get(CHANNEL)
        history = await db.turns.history(CHANNEL, "1700.1", 1000)
        run = await db.runs.find_by_message(CHANNEL, "M-a2")
    finally:
        await db.close()

    assert config is not None and config.config_json == '{"layers": 2}'
    assert [t.text for t in history] == ["Is 9.11 > 9.9?"]
    assert run is not None and run.id == 7 and run.answer_message_ids == ("M-a1", "M-a2")
    assert [p.text for p in run.proposers] == ["9.9 is larger"]
    assert await _versions(postgres_url) == list(range(1, SCHEMA_VERSION + 1))


async def test_failed_migration_leaves_the_database_as_it_was(postgres_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    await _write_v1(postgres_url)
    broken = (*pg_schema.PG_MIGRATIONS, ("CREATE TABLE extra (x INTEGER)", "this is not SQL"))
    monkeypatch.setattr(pg_schema, "PG_MIGRATIONS", broken)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(broken))

    with pytest.raises(asyncpg.PostgresSyntaxError):
        await Database.open(postgres_url)

    # Every real step applied and committed; the broken last one rolled back completely.
    assert await _versions(postgres_url) == list(range(1, len(broken)))
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('extra')") is None
        assert await conn.fetchval("SELECT count(*) FROM runs") == 1
    finally:
        await conn.close()


async def test_database_from_a_newer_version_is_refused(postgres_url: str) -> None:
    db = await Database.open(postgres_url)
    await db.close()
    conn = await asyncpg.connect(postgres_url)
    await conn.execute("INSERT INTO schema_versions VALUES ($1, 0)", SCHEMA_VERSION + 1)
    await conn.close()

    with pytest.raises(SchemaTooNew):
        await Database.open(postgres_url)


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    replicas = await asyncio.gather(*(Database.open(postgres_url) for _ in range(4)))
    try:
        await replicas[0].configs.put(CHANNEL, '{"layers": 2}', "U-admin", "layers 2")
        seen = [await replica.configs.get(CHANNEL) for replica in replicas]
    finally:
        await asyncio.gather(*(replica.close() for replica in replicas))

    assert await _versions(postgres_url) == list(range(1, SCHEMA_VERSION + 1))
    assert all(config is not None and config.config_json == '{"layers": 2}' for config in seen)
