from __future__ import annotations

from storage import ChannelKey, Database

CHANNEL = ChannelKey("slack", "T01", "C01")
OTHER_CHANNEL = ChannelKey("slack", "T01", "C02")
OTHER_WORKSPACE = ChannelKey("slack", "T02", "C01")


async def test_config_survives_closing_and_reopening(db_target: str) -> None:
    first = await Database.open(db_target)
    await first.configs.put(CHANNEL, '{"layers": 3}', "U-admin", "layers 3")
    await first.close()

    second = await Database.open(db_target)
    try:
        stored = await second.configs.get(CHANNEL)
        assert stored is not None
        assert (stored.config_json, stored.changed_by, stored.scope) == ('{"layers": 3}', "U-admin", "channel")
    finally:
        await second.close()


async def test_thread_uses_its_channels_config(db: Database) -> None:
    # Threads have no config of their own: whatever thread a mention is in, the lookup is by channel.
    await db.configs.put(CHANNEL, '{"layers": 2}', "U-admin", "layers 2")

    stored = await db.configs.effective(CHANNEL)

    assert stored is not None and stored.config_json == '{"layers": 2}'


async def test_channel_without_config_uses_workspace_default(db: Database) -> None:
    await db.configs.put(CHANNEL.workspace_default(), '{"layers": 4}', "U-owner", "layers 4")

    stored = await db.configs.effective(OTHER_CHANNEL)

    assert stored is not None
    assert (stored.config_json, stored.scope) == ('{"layers": 4}', "workspace")
    assert await db.configs.get(OTHER_CHANNEL) is None


async def test_channel_config_wins_over_workspace_default(db: Database) -> None:
    await db.configs.put(CHANNEL.workspace_default(), '{"layers": 4}', "U-owner", "layers 4")
    await db.configs.put(CHANNEL, '{"layers": 1}', "U-admin", "layers 1")

    stored = await db.configs.effective(CHANNEL)

    assert stored is not None and (stored.config_json, stored.scope) == ('{"layers": 1}', "channel")


async def test_no_config_anywhere_means_builtin_default(db: Database) -> None:
    await db.configs.put(OTHER_WORKSPACE.workspace_default(), '{"layers": 4}', "U-x", "layers 4")
    await db.configs.put(ChannelKey("discord", "T01", "C01"), '{"layers": 5}', "U-y", "layers 5")

    assert await db.configs.effective(CHANNEL) is None


async def test_put_replaces_and_logs_who_changed_what(db: Database) -> None:
    await db.configs.put(CHANNEL, '{"layers": 2}', "U-alice", "layers 2")
    await db.configs.put(CHANNEL, '{"layers": 3}', "U-bob", "layers 3")

    stored = await db.configs.get(CHANNEL)
    changes = await db.configs.changes(CHANNEL)

    assert stored is not None and (stored.config_json, stored.changed_by) == ('{"layers": 3}', "U-bob")
    assert [(c.changed_by, c.summary) for c in changes] == [("U-bob", "layers 3"), ("U-alice", "layers 2")]
    assert changes[0].changed_at >= changes[1].changed_at
    assert await db.configs.changes(OTHER_CHANNEL) == []


async def test_changes_are_limited_newest_first(db: Database) -> None:
    for layers in range(1, 6):
        await db.configs.put(CHANNEL, f'{{"layers": {layers}}}', "U-admin", f"layers {layers}")

    changes = await db.configs.changes(CHANNEL, limit=2)

    assert [c.summary for c in changes] == ["layers 5", "layers 4"]


async def test_reset_falls_back_and_is_logged(db: Database) -> None:
    await db.configs.put(CHANNEL.workspace_default(), '{"layers": 4}', "U-owner", "layers 4")
    await db.configs.put(CHANNEL, '{"layers": 1}', "U-admin", "layers 1")

    assert await db.configs.delete(CHANNEL, "U-admin") is True

    stored = await db.configs.effective(CHANNEL)
    assert stored is not None and stored.scope == "workspace"
    latest_change = (await db.configs.changes(CHANNEL))[0]
    assert (latest_change.changed_by, latest_change.summary) == ("U-admin", "reset")


async def test_reset_without_stored_config_changes_nothing(db: Database) -> None:
    assert await db.configs.delete(CHANNEL, "U-admin") is False
    assert await db.configs.changes(CHANNEL) == []
