"""👍/👎 on answers: one vote per member per run (a second press replaces it), counted per config."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.backend import Connection
from storage.models import ChannelKey
from storage.usage import day_of


@dataclass(frozen=True)
class VoteOutcome:
    """What a press did: the member's vote before (None: first vote) and now (+1 or -1)."""

    previous: int | None
    vote: int

    @property
    def changed(self) -> bool:
        return self.previous != self.vote


class VoteRepository:
    """Votes live with their run (deleted with it) and move the run's config tally in `usage_configs`."""

    def __init__(self, shared: Connection) -> None:
        self._db = shared

    async def cast(self, channel: ChannelKey, run_id: int, member: str, vote: int,
                   now: float | None = None) -> VoteOutcome | None:
        """Record `member`'s vote (+1/-1) on a run of `channel`; None when no such run is stored there."""
        if vote not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, not {vote!r}")
        if not member:
            raise ValueError("a vote belongs to a member; this press carries no member id")
        async with self._db.transaction() as tx:
            # Votes on one run take turns: this no-op update locks the run's row until commit (PostgreSQL;
            # SQLite's transactions already take turns), so the previous vote read below is the latest one
            # and the tally's +/- matches the votes table even when one member presses 20 times at once.
            await tx.execute("UPDATE runs SET id = id WHERE id = ?", (run_id,))
            runs = await tx.fetchall(
                "SELECT started_at, config_label FROM runs WHERE id = ? AND platform = ? AND workspace = ?"
                " AND channel = ?", (run_id, channel.platform, channel.workspace, channel.channel))
            if not runs:
                return None
            rows = await tx.fetchall("SELECT vote FROM votes WHERE run_id = ? AND member = ?", (run_id, member))
            previous = int(rows[0][0]) if rows else None
            if previous == vote:
                return VoteOutcome(previous, vote)
            await tx.execute(
                "INSERT INTO votes (run_id, member, vote, voted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (run_id, member) DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (run_id, member, vote, time.time() if now is None else now))
            up = (vote == 1) - (previous == 1)
            down = (vote == -1) - (previous == -1)
            await tx.execute(
                "INSERT INTO usage_configs (platform, workspace, channel, day, config_label, up, down)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace, channel, day, config_label)"
                " DO UPDATE SET up = usage_configs.up + excluded.up, down = usage_configs.down + excluded.down",
                (channel.platform, channel.workspace, channel.channel, day_of(runs[0][0]), runs[0][1], up, down))
        return VoteOutcome(previous, vote)
