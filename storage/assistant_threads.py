"""Slack assistant threads' context: which channel the person was viewing when they opened the pane."""

from __future__ import annotations

import json
import time

from storage.backend import Connection


class AssistantThreadRepository:
    def __init__(self, shared: Connection) -> None:
        self._db = shared

    async def save(self, workspace: str, channel: str, thread: str, context: dict[str, str]) -> None:
        await self._db.execute(
            "INSERT INTO assistant_threads (workspace, channel, thread, context_json, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace, channel, thread) DO UPDATE SET"
            " context_json = excluded.context_json, updated_at = excluded.updated_at",
            (workspace, channel, thread, json.dumps(context, sort_keys=True), time.time()))

    async def find(self, workspace: str, channel: str, thread: str) -> dict[str, str] | None:
        row = await self._db.fetchone(
            "SELECT context_json FROM assistant_threads WHERE workspace = ? AND channel = ? AND thread = ?",
            (workspace, channel, thread))
        return dict(json.loads(row[0])) if row else None
