"""Per-channel daily budgets and what today has used of them (days are UTC)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.backend import Connection
from storage.models import ChannelKey
from storage.usage import DAY_S, day_of


@dataclass(frozen=True)
class StoredBudget:
    """A channel's own budgets; None means "the deployment's default", 0 means "none"."""

    member_answers: int | None
    channel_tokens: int | None
    changed_by: str
    changed_at: float


@dataclass(frozen=True)
class Used:
    member_answers: int  # answers this member started today in the channel (failed ones excluded)
    channel_tokens: int  # tokens (in + out) the channel's runs spent today


def day_start(now: float) -> float:
    """The unix time of the UTC midnight that began `now`'s day."""
    return float(day_of(now) * DAY_S)


class BudgetRepository:
    def __init__(self, shared: Connection) -> None:
        self._db = shared

    async def get(self, channel: ChannelKey) -> StoredBudget | None:
        row = await self._db.fetchone(
            "SELECT member_answers, channel_tokens, changed_by, changed_at FROM budgets"
            " WHERE platform = ? AND workspace = ? AND channel = ?",
            (channel.platform, channel.workspace, channel.channel))
        return StoredBudget(row[0], row[1], row[2], row[3]) if row else None

    async def put(self, channel: ChannelKey, *, member_answers: int | None, channel_tokens: int | None,
                  changed_by: str) -> None:
        """Store both budgets of the channel (None: use the deployment's default, 0: none)."""
        await self._db.execute(
            "INSERT INTO budgets (platform, workspace, channel, member_answers, channel_tokens, changed_by,"
            " changed_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace, channel) DO UPDATE SET"
            " member_answers = excluded.member_answers, channel_tokens = excluded.channel_tokens,"
            " changed_by = excluded.changed_by, changed_at = excluded.changed_at",
            (channel.platform, channel.workspace, channel.channel, member_answers, channel_tokens, changed_by,
             time.time()))

    async def used(self, channel: ChannelKey, member: str, now: float | None = None,
                   exclude_run: int | None = None) -> Used:
        """What today (UTC) has used: the member's answers in the channel and the channel's tokens
        (`exclude_run`: the question being checked — it, and questions queued after it, don't count)."""
        since = day_start(time.time() if now is None else now)
        key = (channel.platform, channel.workspace, channel.channel)
        # Runs in flight count toward answers (two quick questions can't both slip under the limit);
        # answers that failed don't. Tokens count whatever was spent, failures included.
        answers = await self._db.fetchone(
            "SELECT COUNT(*) FROM runs WHERE platform = ? AND workspace = ? AND channel = ? AND author = ?"
            " AND started_at >= ? AND status NOT IN ('failed', 'interrupted')"
            + ("" if exclude_run is None else " AND (id < ? OR status <> 'queued') AND id <> ?"),
            (*key, member, since, *(() if exclude_run is None else (exclude_run, exclude_run))))
        tokens = await self._db.fetchone(
            "SELECT COALESCE(SUM(COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0)), 0) FROM runs"
            " WHERE platform = ? AND workspace = ? AND channel = ? AND started_at >= ?", (*key, since))
        return Used(int(answers[0]) if answers else 0, int(tokens[0]) if tokens else 0)
