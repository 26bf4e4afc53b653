"""What the bot spent and how fast it was, per channel, day, config and model — read from small rollups.

Finished runs are folded once into per-day tables (`usage_configs`, `usage_models`, `usage_latency`), so
a usage report reads a few hundred rows however many runs are stored, and its numbers survive pruning.
`fold()` claims runs atomically (`usage_counted`), so two folds never count a run twice. A read-only
report (the `moa-bot usage` command next to a running bot) folds the not-yet-counted runs in memory.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from storage.connection import SharedConnection, Transaction
from storage.models import ChannelKey

DAY_S = 86400
FOLD_BATCH = 2000
_BUCKET_BASE = 1.02  # answer-time histogram buckets are 2% wide: medians to within ±1%
_COUNTED = "('done', 'failed', 'interrupted')"  # final states; anything else is still in flight
_ID_CHUNK = 500

ChannelRow = tuple[str, str, str]


def day_of(ts: float) -> int:
    """The UTC day (days since 1970-01-01) a unix time falls on."""
    return int(ts // DAY_S)


def bucket_of(seconds: float) -> int:
    return round(math.log(max(seconds, 0.01)) / math.log(_BUCKET_BASE))


def bucket_seconds(bucket: int) -> float:
    return float(_BUCKET_BASE**bucket)


def percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """The answer time below which `fraction` of the answers fall (nearest rank), from a histogram."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_seconds(bucket)
    return None  # unreachable: the ranks add up to total


@dataclass
class ConfigUsage:
    """One config's answers in a period (or all configs together)."""

    label: str
    answers: int = 0
    failures: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0  # answers whose cost is unknown (a model without a price)
    up: int = 0
    down: int = 0
    latency: dict[int, int] = field(default_factory=dict)  # histogram bucket → answers

    def add(self, other: ConfigUsage) -> None:
        self.answers += other.answers
        self.failures += other.failures
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd
        self.unpriced += other.unpriced
        self.up += other.up
        self.down += other.down
        for bucket, count in other.latency.items():
            self.latency[bucket] = self.latency.get(bucket, 0) + count

    @property
    def median_s(self) -> float | None:
        return percentile(self.latency, 0.5)

    @property
    def p95_s(self) -> float | None:
        return percentile(self.latency, 0.95)


@dataclass
class ModelUsage:
    model: str
    calls: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: ModelUsage) -> None:
        self.calls += other.calls
        self.failures += other.failures
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


@dataclass
class DayUsage:
    """Rollup rows keyed by channel and UTC day, as stored (or as a fold would store them)."""

    configs: dict[tuple[ChannelRow, int, str], ConfigUsage] = field(default_factory=dict)
    models: dict[tuple[ChannelRow, int, str], ModelUsage] = field(default_factory=dict)

    def config(self, channel: ChannelRow, day: int, label: str) -> ConfigUsage:
        return self.configs.setdefault((channel, day, label), ConfigUsage(label))

    def model(self, channel: ChannelRow, day: int, model: str) -> ModelUsage:
        return self.models.setdefault((channel, day, model), ModelUsage(model))

    def merge(self, other: DayUsage) -> None:
        for (channel, day, label), usage in other.configs.items():
            self.config(channel, day, label).add(usage)
        for (channel, day, model), m in other.models.items():
            self.model(channel, day, model).add(m)


@dataclass
class Period:
    """Usage summed over some days: everything, per config and per model."""

    total: ConfigUsage = field(default_factory=lambda: ConfigUsage("all"))
    configs: dict[str, ConfigUsage] = field(default_factory=dict)
    models: dict[str, ModelUsage] = field(default_factory=dict)
    channels: dict[ChannelRow, ConfigUsage] = field(default_factory=dict)


def summarise(days: DayUsage, first_day: int, last_day: int) -> Period:
    """Sum the rollups of days first_day..last_day (inclusive)."""
    period = Period()
    for (channel, day, label), usage in days.configs.items():
        if first_day <= day <= last_day:
            period.total.add(usage)
            period.configs.setdefault(label, ConfigUsage(label)).add(usage)
            period.channels.setdefault(channel, ConfigUsage(":".join(channel))).add(usage)
    for (_, day, model), m in days.models.items():
        if first_day <= day <= last_day:
            period.models.setdefault(model, ModelUsage(model)).add(m)
    return period


_RUN_FIELDS = ("id, platform, workspace, channel, started_at, config_label, status, total_s, prompt_tokens,"
               " completion_tokens, cost_usd, config_json")
_PROPOSER_FIELDS = "run_id, model, prompt_tokens, completion_tokens, error"


def _aggregator(config_json: str) -> str:
    try:
        return str(json.loads(config_json).get("main_model") or "")
    except (ValueError, AttributeError):
        return ""


def _contributions(runs: Sequence[sqlite3.Row], proposers: Iterable[sqlite3.Row]) -> DayUsage:
    """What finished runs add to the rollups: answers, failures, calls, tokens, cost, answer times."""
    by_run: dict[int, list[sqlite3.Row]] = {}
    for p in proposers:
        by_run.setdefault(p[0], []).append(p)
    out = DayUsage()
    for run in runs:
        channel: ChannelRow = (run[1], run[2], run[3])
        day = day_of(run[4])
        done = run[6] == "done"
        outputs = by_run.get(run[0], [])
        usage = out.config(channel, day, run[5])
        usage.answers += done
        usage.failures += not done
        usage.calls += len(outputs) + done  # the aggregator wrote the answer of every done run
        proposer_in = sum(p[2] or 0 for p in outputs)
        proposer_out = sum(p[3] or 0 for p in outputs)
        usage.prompt_tokens += run[8] if run[8] is not None else proposer_in
        usage.completion_tokens += run[9] if run[9] is not None else proposer_out
        if done:
            if run[10] is None:
                usage.unpriced += 1
            else:
                usage.cost_usd += run[10]
            if run[7] is not None:
                bucket = bucket_of(run[7])
                usage.latency[bucket] = usage.latency.get(bucket, 0) + 1
        for p in outputs:
            m = out.model(channel, day, p[1])
            m.calls += 1
            m.failures += p[4] is not None
            m.prompt_tokens += p[2] or 0
            m.completion_tokens += p[3] or 0
        if done and (model := _aggregator(run[11])):
            m = out.model(channel, day, model)
            m.calls += 1
            m.prompt_tokens += max(0, (run[8] or 0) - proposer_in)
            m.completion_tokens += max(0, (run[9] or 0) - proposer_out)
    return out


async def _proposers_of(tx: Transaction | SharedConnection, run_ids: list[int]) -> list[sqlite3.Row]:
    rows: list[sqlite3.Row] = []
    for i in range(0, len(run_ids), _ID_CHUNK):
        chunk = run_ids[i:i + _ID_CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows += await tx.fetchall(
            f"SELECT {_PROPOSER_FIELDS} FROM proposer_outputs WHERE run_id IN ({marks})", chunk)
    return rows


async def _store(tx: Transaction, add: DayUsage) -> None:
    await tx.executemany(
        "INSERT INTO usage_configs (platform, workspace, channel, day, config_label, answers, failures, calls,"
        " prompt_tokens, completion_tokens, cost_usd, unpriced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (platform, workspace, channel, day, config_label) DO UPDATE SET"
        " answers = usage_configs.answers + excluded.answers,"
        " failures = usage_configs.failures + excluded.failures,"
        " calls = usage_configs.calls + excluded.calls,"
        " prompt_tokens = usage_configs.prompt_tokens + excluded.prompt_tokens,"
        " completion_tokens = usage_configs.completion_tokens + excluded.completion_tokens,"
        " cost_usd = usage_configs.cost_usd + excluded.cost_usd,"
        " unpriced = usage_configs.unpriced + excluded.unpriced",
        [(*channel, day, label, u.answers, u.failures, u.calls, u.prompt_tokens, u.completion_tokens,
          u.cost_usd, u.unpriced) for (channel, day, label), u in add.configs.items()],
    )
    await tx.executemany(
        "INSERT INTO usage_models (platform, workspace, channel, day, model, calls, failures, prompt_tokens,"
        " completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (platform, workspace, channel, day, model) DO UPDATE SET"
        " calls = usage_models.calls + excluded.calls,"
        " failures = usage_models.failures + excluded.failures,"
        " prompt_tokens = usage_models.prompt_tokens + excluded.prompt_tokens,"
        " completion_tokens = usage_models.completion_tokens + excluded.completion_tokens",
        [(*channel, day, model, m.calls, m.failures, m.prompt_tokens, m.completion_tokens)
         for (channel, day, model), m in add.models.items()],
    )
    await tx.executemany(
        "INSERT INTO usage_latency (platform, workspace, channel, day, config_label, bucket, answers)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace, channel, day, config_label, bucket)"
        " DO UPDATE SET answers = usage_latency.answers + excluded.answers",
        [(*channel, day, label, bucket, count) for (channel, day, label), u in add.configs.items()
         for bucket, count in u.latency.items()],
    )


class UsageRepository:
    """Folds finished runs into daily rollups and reads them back."""

    def __init__(self, shared: SharedConnection) -> None:
        self._db = shared

    async def fold(self) -> int:
        """Count every finished run not counted yet into the rollups; returns how many were folded."""
        folded = 0
        while True:
            async with self._db.transaction() as tx:
                # Claim and read in one statement: a run is counted by exactly one fold.
                runs = await tx.fetchall(
                    "UPDATE runs SET usage_counted = 1 WHERE id IN (SELECT id FROM runs WHERE usage_counted = 0"
                    f" AND status IN {_COUNTED} ORDER BY id LIMIT {FOLD_BATCH}) RETURNING {_RUN_FIELDS}")
                if runs:
                    await _store(tx, _contributions(runs, await _proposers_of(tx, [r[0] for r in runs])))
            folded += len(runs)
            if len(runs) < FOLD_BATCH:
                return folded

    async def days(self, first_day: int, channel: ChannelKey | None = None, *, channel_id: str | None = None,
                   pending: bool = False) -> DayUsage:
        """Rollup rows from `first_day` on, for one channel (or a channel id on any platform, or all).

        `pending` adds the finished runs no fold has counted yet, without writing (read-only callers).
        """
        where, params = "day >= ?", list[object]([first_day])
        if channel is not None:
            where += " AND platform = ? AND workspace = ? AND channel = ?"
            params += [channel.platform, channel.workspace, channel.channel]
        elif channel_id is not None:
            where += " AND channel = ?"
            params.append(channel_id)
        out = DayUsage()
        async with self._db.lock:
            configs = await self._db.raw.execute_fetchall(
                "SELECT platform, workspace, channel, day, config_label, answers, failures, calls, prompt_tokens,"
                f" completion_tokens, cost_usd, unpriced, up, down FROM usage_configs WHERE {where}", params)
            models = await self._db.raw.execute_fetchall(
                "SELECT platform, workspace, channel, day, model, calls, failures, prompt_tokens, completion_tokens"
                f" FROM usage_models WHERE {where}", params)
            latency = await self._db.raw.execute_fetchall(
                "SELECT platform, workspace, channel, day, config_label, bucket, answers"
                f" FROM usage_latency WHERE {where}", params)
        for r in configs:
            out.configs[((r[0], r[1], r[2]), r[3], r[4])] = ConfigUsage(r[4], *r[5:14])
        for r in models:
            out.models[((r[0], r[1], r[2]), r[3], r[4])] = ModelUsage(r[4], *r[5:9])
        for r in latency:
            usage = out.config((r[0], r[1], r[2]), r[3], r[4])
            usage.latency[r[5]] = usage.latency.get(r[5], 0) + r[6]
        if pending:
            out.merge(await self._pending(where.replace("day >= ?", "started_at >= ?"),
                                          [first_day * DAY_S, *params[1:]]))
        return out

    async def _pending(self, where: str, params: list[object]) -> DayUsage:
        runs = await self._db.fetchall(
            f"SELECT {_RUN_FIELDS} FROM runs WHERE usage_counted = 0 AND status IN {_COUNTED} AND {where}", params)
        return _contributions(runs, await _proposers_of(self._db, [r[0] for r in runs]))
