"""Conversation turns per channel thread, read back newest-first within a token budget."""

from __future__ import annotations

import time
from typing import Literal

from moa.messages.tokens import MESSAGE_OVERHEAD_TOKENS, message_tokens
from storage.backend import Connection
from storage.models import ChannelKey, StoredTurn

# Newest first, walking the (…, thread, created_at) index backwards (rowid breaks ties) one page at a time,
# so reading stops soon after the budget is spent: a long thread costs no more than a short one. Each
# page is a complete statement (keyset paging, no open cursor), i.e. one round trip to the SQLite thread.
_PAGE_SQL = """
SELECT id, role, author, text, created_at FROM turns
WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ? AND (created_at, id) < (?, ?)
ORDER BY created_at DESC, id DESC LIMIT ?
"""
FIRST_PAGE = 100  # turns in the first page (most budgets are spent within it); later pages double


class TurnRepository:
    """What was said in each thread (user questions and the bot's answers)."""

    def __init__(self, shared: Connection) -> None:
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
        """The newest whole turns that fit in token_budget, oldest first; a turn costs what the pacer counts
        for one message of its text (moa.messages.tokens), so the budget and the pacer agree."""
        if token_budget < MESSAGE_OVERHEAD_TOKENS:  # not even an empty turn fits
            return []
        key = (channel.platform, channel.workspace, channel.channel, thread)
        # Every turn costs at least MESSAGE_OVERHEAD_TOKENS, which bounds how many can fit.
        page = min(FIRST_PAGE, token_budget // MESSAGE_OVERHEAD_TOKENS)
        before: tuple[float, int] = (float("inf"), 0)
        picked: list[StoredTurn] = []
        spent = 0
        while True:
            rows = await self._db.fetchall(_PAGE_SQL, (*key, *before, page))
            for _id, role, author, text, created_at in rows:
                spent += message_tokens(text)
                if spent > token_budget:
                    break
                picked.append(StoredTurn(role=role, author=author, text=text, created_at=created_at))
            else:
                if len(rows) == page:  # the page was full and all of it fit: read further back
                    before = (rows[-1][4], rows[-1][0])
                    page *= 2
                    continue
            break
        picked.reverse()
        return picked

    async def count(self, channel: ChannelKey, thread: str) -> int:
        """How many turns are stored in this thread."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM turns WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?",
            (channel.platform, channel.workspace, channel.channel, thread),
        )
        return int(row[0]) if row else 0

    async def has_thread(self, channel: ChannelKey, thread: str) -> bool:
        """Whether any turn is stored in this thread."""
        row = await self._db.fetchone(
            "SELECT EXISTS (SELECT 1 FROM turns WHERE platform = ? AND workspace = ? AND channel = ? AND thread = ?)",
            (channel.platform, channel.workspace, channel.channel, thread),
        )
        return bool(row and row[0])
