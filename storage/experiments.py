"""Experiments in a channel: two arms answer in turn, each run records its arm, and the standing counts
each arm's answers, 👍/👎, time and cost."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from storage.backend import Connection, Row
from storage.models import ChannelKey

Arm = Literal["A", "B"]


@dataclass(frozen=True)
class Experiment:
    id: int
    arm_a: str  # the name the admin gave (a preset, or "current")
    config_a: str  # its config JSON, fixed when the experiment started
    arm_b: str
    config_b: str
    started_by: str
    started_at: float
    stopped_at: float | None = None
    adopted: str | None = None

    def name(self, arm: Arm) -> str:
        return self.arm_a if arm == "A" else self.arm_b

    def config(self, arm: Arm) -> str:
        return self.config_a if arm == "A" else self.config_b


@dataclass(frozen=True)
class ArmRun:
    """One answer an arm gave, with what people thought of it."""

    arm: Arm
    status: str
    total_s: float | None
    cost_usd: float | None
    up: int
    down: int


_COLUMNS = "id, arm_a, config_a, arm_b, config_b, started_by, started_at, stopped_at, adopted"


def _experiment(row: Row) -> Experiment:
    return Experiment(int(row[0]), row[1], row[2], row[3], row[4], row[5], float(row[6]),
                      None if row[7] is None else float(row[7]), row[8])


class ExperimentRepository:
    """At most one running experiment per channel; its runs are linked in `experiment_runs`."""

    def __init__(self, shared: Connection) -> None:
        self._db = shared

    async def running(self, channel: ChannelKey) -> Experiment | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM experiments WHERE platform = ? AND workspace = ? AND channel = ?"
            " AND stopped_at IS NULL", (channel.platform, channel.workspace, channel.channel))
        return _experiment(row) if row else None

    async def start(self, channel: ChannelKey, arm_a: tuple[str, str], arm_b: tuple[str, str], started_by: str,
                    now: float | None = None) -> Experiment | None:
        """Start A (name, config JSON) against B; None when one is already running in the channel."""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT id FROM experiments WHERE platform = ? AND workspace = ? AND channel = ?"
                " AND stopped_at IS NULL", (channel.platform, channel.workspace, channel.channel))
            if rows:
                return None
            rows = await tx.fetchall(
                "INSERT INTO experiments (platform, workspace, channel, arm_a, config_a, arm_b, config_b, started_by,"
                f" started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (channel.platform, channel.workspace, channel.channel, *arm_a, *arm_b, started_by,
                 time.time() if now is None else now))
        return _experiment(rows[0])

    async def take_turn(self, experiment_id: int) -> Arm | None:
        """The arm that answers next: A, B, A, B… (one counter, so answers at once still alternate);
        None when the experiment has stopped meanwhile."""
        rows = await self._db.fetchall_write(
            "UPDATE experiments SET turns = turns + 1 WHERE id = ? AND stopped_at IS NULL RETURNING turns",
            (experiment_id,))
        if not rows:
            return None
        return "A" if int(rows[0][0]) % 2 == 1 else "B"

    async def record(self, run_id: int, experiment_id: int, arm: Arm) -> None:
        """The run `run_id` was answered by `arm`."""
        await self._db.execute(
            "INSERT INTO experiment_runs (run_id, experiment_id, arm) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (run_id, experiment_id, arm))

    async def stop(self, channel: ChannelKey, adopted: str | None = None,
                   now: float | None = None) -> Experiment | None:
        """End the channel's running experiment (naming the arm adopted, if any); None when none runs."""
        rows = await self._db.fetchall_write(
            f"UPDATE experiments SET stopped_at = ?, adopted = ? WHERE platform = ? AND workspace = ? AND channel = ?"
            f" AND stopped_at IS NULL RETURNING {_COLUMNS}",
            (time.time() if now is None else now, adopted, channel.platform, channel.workspace, channel.channel))
        return _experiment(rows[0]) if rows else None

    async def member_votes(self, experiment_id: int) -> list[tuple[Arm, str, int]]:
        """Every 👍 (+1) / 👎 (-1) on the experiment's answers as (arm, member, vote): one per member and run."""
        rows = await self._db.fetchall(
            "SELECT er.arm, v.member, v.vote FROM experiment_runs er JOIN votes v ON v.run_id = er.run_id"
            " WHERE er.experiment_id = ? ORDER BY er.run_id, v.member", (experiment_id,))
        return [(row[0], str(row[1]), int(row[2])) for row in rows]

    async def runs(self, experiment_id: int) -> list[ArmRun]:
        """Every answer of the experiment with its arm, status, time, cost and votes."""
        rows = await self._db.fetchall(
            "SELECT er.arm, r.status, r.total_s, r.cost_usd,"
            " (SELECT COUNT(*) FROM votes v WHERE v.run_id = r.id AND v.vote = 1),"
            " (SELECT COUNT(*) FROM votes v WHERE v.run_id = r.id AND v.vote = -1)"
            " FROM experiment_runs er JOIN runs r ON r.id = er.run_id WHERE er.experiment_id = ? ORDER BY r.id",
            (experiment_id,))
        return [ArmRun(row[0], row[1], None if row[2] is None else float(row[2]),
                       None if row[3] is None else float(row[3]), int(row[4]), int(row[5])) for row in rows]
