"""Per-channel MoA configs and who changed them; threads use their channel's config."""

from __future__ import annotations

import time
from typing import Literal

from storage.backend import Connection, Row
from storage.models import WORKSPACE_DEFAULT, ChannelKey, ConfigChange, StoredConfig


def _stored(row: Row) -> StoredConfig:
    scope: Literal["channel", "workspace"] = "workspace" if row[0] == WORKSPACE_DEFAULT else "channel"
    return StoredConfig(config_json=row[1], changed_by=row[2], changed_at=row[3], scope=scope)


class ConfigRepository:
    """Configs keyed by platform + workspace + channel; channel `*` holds the workspace default."""

    def __init__(self, shared: Connection) -> None:
        self._db = shared

    async def get(self, channel: ChannelKey) -> StoredConfig | None:
        """Exactly this channel's config (the workspace default when channel.channel is `*`)."""
        row = await self._db.fetchone(
            "SELECT channel, config_json, changed_by, changed_at FROM configs"
            " WHERE platform = ? AND workspace = ? AND channel = ?",
            (channel.platform, channel.workspace, channel.channel),
        )
        return _stored(row) if row else None

    async def effective(self, channel: ChannelKey) -> StoredConfig | None:
        """The channel's own config, else the workspace default, else None (use the built-in default)."""
        row = await self._db.fetchone(
            "SELECT channel, config_json, changed_by, changed_at FROM configs"
            " WHERE platform = ? AND workspace = ? AND channel IN (?, ?)"
            " ORDER BY channel = ? LIMIT 1",
            (channel.platform, channel.workspace, channel.channel, WORKSPACE_DEFAULT, WORKSPACE_DEFAULT),
        )
        return _stored(row) if row else None

    async def put(self, channel: ChannelKey, config_json: str, changed_by: str, summary: str) -> None:
        """Store the channel's config and log the change, atomically."""
        now = time.time()
        key = (channel.platform, channel.workspace, channel.channel)
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO configs (platform, workspace, channel, config_json, changed_by, changed_at)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, workspace, channel) DO UPDATE SET"
                " config_json = excluded.config_json, changed_by = excluded.changed_by,"
                " changed_at = excluded.changed_at",
                (*key, config_json, changed_by, now),
            )
            await tx.execute(
                "INSERT INTO config_changes (platform, workspace, channel, changed_by, changed_at, summary)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (*key, changed_by, now, summary),
            )

    async def delete(self, channel: ChannelKey, changed_by: str) -> bool:
        """Reset the channel to the default; logs a "reset" change. False if nothing was stored."""
        key = (channel.platform, channel.workspace, channel.channel)
        async with self._db.transaction() as tx:
            removed = await tx.execute(
                "DELETE FROM configs WHERE platform = ? AND workspace = ? AND channel = ?", key
            )
            if removed:
                await tx.execute(
                    "INSERT INTO config_changes"
                    " (platform, workspace, channel, changed_by, changed_at, summary)"
                    " VALUES (?, ?, ?, ?, ?, 'reset')",
                    (*key, changed_by, time.time()),
                )
        return bool(removed)

    async def changes(self, channel: ChannelKey, limit: int = 20) -> list[ConfigChange]:
        """The channel's config changes, newest first."""
        rows = await self._db.fetchall(
            "SELECT changed_by, changed_at, summary FROM config_changes"
            " WHERE platform = ? AND workspace = ? AND channel = ? ORDER BY id DESC LIMIT ?",
            (channel.platform, channel.workspace, channel.channel, limit),
        )
        return [ConfigChange(changed_by=r[0], changed_at=r[1], summary=r[2]) for r in rows]
