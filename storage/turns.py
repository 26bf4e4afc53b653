"""Conversation turns per channel thread, read back newest-first within a token budget."""

from __future__ import annotations

import time
from typing import Literal

from storage.connection import SharedConnection
from storage.models import ChannelKey, StoredTurn

TURN_OVERHEAD_TOKENS = 4


def turn_tokens(text: str) -> int:
    """The rough token cost of one turn: len(text)//4 plus a fixed per-message overhead."""
    return len(text) // 4 + TURN_OVERHEAD_TOKENS


# SQLite's length() counts characters like Python's len(), and integer / integer truncates like //,
# so the running total below is exactly sum(turn_tokens(text)) over the newest turns.
_HISTORY_SQL = f"""
SELECT role, author, text, created_at FROM (
    SELECT id, role, author, text, created_at,
           SUM(length(text) / 4 + {TURN_OVERHEAD_TOKENS})
               OVER (ORDER BY created_at DESC, id DESC ROWS UNBOUNDED PRECEDING) AS spent
    FROM turns
    WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?
)
WHERE spent <= ?
ORDER BY created_at, id
"""


class TurnRepository:
    """What was said in each thread (user questions and the bot's answers)."""

    def __init__(self, shared: SharedConnection) -> None:
        self._db = shared

    async def add(
        self,
        channel: ChannelKey,
        thread: str,
        role: Literal["user", "assistant"],
        author: str,
        text: str,
        created_at: float | None = None,
    ) -> None:
        """Append one turn to the thread."""
        await self._db.execute(
            "INSERT INTO turns (platform, workspace, channel, thread, role, author, text, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                channel.platform,
                channel.workspace,
                channel.channel,
                thread,
                role,
                author,
                text,
                time.time() if created_at is None else created_at,
            ),
        )

    async def history(self, channel: ChannelKey, thread: str, token_budget: int) -> list[StoredTurn]:
        """The newest whole turns that fit in token_budget (see turn_tokens), oldest first."""
        if token_budget <= 0:
            return []
        rows = await self._db.fetchall(
            _HISTORY_SQL, (channel.platform, channel.workspace, channel.channel, thread, token_budget)
        )
        return [StoredTurn(role=r[0], author=r[1], text=r[2], created_at=r[3]) for r in rows]

    async def has_thread(self, channel: ChannelKey, thread: str) -> bool:
        """Whether any turn is stored in this thread."""
        row = await self._db.fetchone(
            "SELECT EXISTS (SELECT 1 FROM turns"
            " WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?)",
            (channel.platform, channel.workspace, channel.channel, thread),
        )
        return bool(row and row[0])
