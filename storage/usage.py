"""What the bot spent and how fast it was, per channel, day, config and model — read from small rollups.

Finished runs are folded once into per-day tables (`usage_configs`, `usage_models`, `usage_latency`), so
a usage report reads a few hundred rows however many runs are stored, and its numbers survive pruning.
`fold()` claims runs atomically (`usage_counted`), so two folds never count a run twice. A read-only
report (the `moa-bot usage` command next to a running bot) folds the not-yet-counted runs in memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from moa.events import Usage, aggregator_share
from storage.backend import Connection, Row, Statements
from storage.models import ChannelKey, answer_writer

DAY_S = 86400
FOLD_BATCH = 500  # runs per transaction: a long catch-up lets answers write in between
_BUCKET_BASE = 1.05  # answer-time histogram buckets are 5% wide: medians to within ±2.5%
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


def _add_counts(into: ConfigUsage | ModelUsage, other: ConfigUsage | ModelUsage) -> None:
    """Add every number of `other` to `into` (names and histograms are not numbers to add)."""
    for f in fields(into):
        value = getattr(into, f.name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            setattr(into, f.name, value + getattr(other, f.name))


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
    cached_tokens: int = 0  # of prompt_tokens, served from the providers' prefix caches
    estimated: int = 0  # answers whose tokens were (partly) estimated from the text: a server counted none

    def add(self, other: ConfigUsage) -> None:
        _add_counts(self, other)
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
    cached_tokens: int = 0  # of prompt_tokens, served from the provider's prefix cache
    estimated: int = 0  # calls whose tokens were estimated from the text: the server counted none

    def add(self, other: ModelUsage) -> None:
        _add_counts(self, other)


@dataclass
class DayUsage:
    """Rollup rows keyed by channel and UTC day, as stored (or as a fold would store them)."""

    configs: dict[tuple[ChannelRow, int, str], ConfigUsage] = field(default_factory=dict)
    models: dict[tuple[ChannelRow, int, str], ModelUsage] = field(default_factory=dict)

    def config(self, channel: ChannelRow, day: int, label: str) -> ConfigUsage:
        return self.configs.setdefault((channel, day, label), ConfigUsage(label))

    def model(self, channel: ChannelRow, day: int, model: str) -> ModelUsage:
        return self.models.setdefault((channel, day, model), ModelUsage(model))


@dataclass
class Period:
    """Usage summed over some days: everything, per config and per model."""

    total: ConfigUsage = field(default_factory=lambda: ConfigUsage("all"))
    configs: dict[str, ConfigUsage] = field(default_factory=dict)
    models: dict[str, ModelUsage] = field(default_factory=dict)
    channels: dict[ChannelRow, ConfigUsage] = field(default_factory=dict)


class _Bands:
    """Periods that all end today and start on `starts` (ascending): band i holds days from starts[i] up to
    the next start, and period i sums bands i and later — so one grouped query serves every period."""

    def __init__(self, starts: Sequence[int]) -> None:
        self.starts = sorted(starts)
        self.periods = [Period() for _ in self.starts]

    def sql(self) -> tuple[str, list[object]]:
        """`CASE … END` giving a stored row's band, and its parameters."""
        if len(self.starts) == 1:
            return "0", []
        whens = " ".join(f"WHEN day >= ? THEN {i}" for i in range(len(self.starts) - 1, 0, -1))
        return f"CASE {whens} ELSE 0 END", list(reversed(self.starts[1:]))

    def of(self, day: int) -> int:
        return max(i for i, start in enumerate(self.starts) if day >= start or i == 0)

    def add_config(self, band: int, usage: ConfigUsage) -> None:
        for period in self.periods[: band + 1]:
            period.total.add(usage)
            period.configs.setdefault(usage.label, ConfigUsage(usage.label)).add(usage)

    def add_channel(self, band: int, channel: ChannelRow, usage: ConfigUsage) -> None:
        for period in self.periods[: band + 1]:
            period.channels.setdefault(channel, ConfigUsage(":".join(channel))).add(usage)

    def add_model(self, band: int, usage: ModelUsage) -> None:
        for period in self.periods[: band + 1]:
            period.models.setdefault(usage.model, ModelUsage(usage.model)).add(usage)

    def add_days(self, days: DayUsage) -> None:
        for (channel, day, _), usage in days.configs.items():
            self.add_config(self.of(day), usage)
            self.add_channel(self.of(day), channel, usage)
        for (_, day, _), m in days.models.items():
            self.add_model(self.of(day), m)


_SUMS = ("SUM(answers), SUM(failures), SUM(calls), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd),"
         " SUM(unpriced), SUM(up), SUM(down), SUM(cached_tokens), SUM(estimated)")
_MODEL_SUMS = ("SUM(calls), SUM(failures), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens),"
               " SUM(estimated)")


_RUN_FIELDS = ("id, platform, workspace, channel, started_at, config_label, status, total_s, prompt_tokens,"
               " completion_tokens, cost_usd, config_json, cached_tokens, usage_estimated, answer_model")
_PROPOSER_FIELDS = "run_id, model, prompt_tokens, completion_tokens, error, cached_tokens, usage_estimated"


def _contributions(runs: Sequence[Row], proposers: Iterable[Row]) -> DayUsage:
    """What finished runs add to the rollups: answers, failures, calls, tokens, cost, answer times."""
    by_run: dict[int, list[Row]] = {}
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
        calls = [(p[1], Usage(p[2] or 0, p[3] or 0, p[5] or 0, bool(p[6]))) for p in outputs]
        proposed = sum((used for _, used in calls), Usage())
        usage.prompt_tokens += run[8] if run[8] is not None else proposed.prompt_tokens
        usage.completion_tokens += run[9] if run[9] is not None else proposed.completion_tokens
        usage.cached_tokens += run[12] if run[12] is not None else proposed.cached_tokens
        usage.estimated += bool(run[13]) or any(p[6] for p in outputs)
        if run[10] is not None:  # what a failed run spent counts too
            usage.cost_usd += run[10]
        elif done:
            usage.unpriced += 1
        if done and run[7] is not None:
            bucket = bucket_of(run[7])
            usage.latency[bucket] = usage.latency.get(bucket, 0) + 1
        for p in outputs:
            m = out.model(channel, day, p[1])
            m.calls += 1
            m.failures += p[4] is not None
            m.prompt_tokens += p[2] or 0
            m.completion_tokens += p[3] or 0
            m.cached_tokens += p[5] or 0
            m.estimated += bool(p[6])
        if done and (model := answer_writer(run[11], run[14])):  # the fallback, when it wrote the answer
            share = aggregator_share(Usage(run[8] or 0, run[9] or 0, run[12] or 0, bool(run[13])), calls, model)
            m = out.model(channel, day, model)
            m.calls += 1
            m.prompt_tokens += share.prompt_tokens
            m.completion_tokens += share.completion_tokens
            m.cached_tokens += share.cached_tokens
            m.estimated += share.estimated
    return out


async def _proposers_of(tx: Statements | Connection, run_ids: list[int]) -> list[Row]:
    rows: list[Row] = []
    for i in range(0, len(run_ids), _ID_CHUNK):
        chunk = run_ids[i:i + _ID_CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows += await tx.fetchall(
            f"SELECT {_PROPOSER_FIELDS} FROM proposer_outputs WHERE run_id IN ({marks})", chunk)
    return rows


async def _store(tx: Statements, add: DayUsage) -> None:
    await tx.executemany(
        "INSERT INTO usage_configs (platform, workspace, channel, day, config_label, answers, failures, calls,"
        " prompt_tokens, completion_tokens, cost_usd, unpriced, cached_tokens, estimated)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (platform, workspace, channel, day, config_label) DO UPDATE SET"
        " answers = usage_configs.answers + excluded.answers,"
        " failures = usage_configs.failures + excluded.failures,"
        " calls = usage_configs.calls + excluded.calls,"
        " prompt_tokens = usage_configs.prompt_tokens + excluded.prompt_tokens,"
        " completion_tokens = usage_configs.completion_tokens + excluded.completion_tokens,"
        " cost_usd = usage_configs.cost_usd + excluded.cost_usd,"
        " unpriced = usage_configs.unpriced + excluded.unpriced,"
        " cached_tokens = usage_configs.cached_tokens + excluded.cached_tokens,"
        " estimated = usage_configs.estimated + excluded.estimated",
        [(*channel, day, label, u.answers, u.failures, u.calls, u.prompt_tokens, u.completion_tokens,
          u.cost_usd, u.unpriced, u.cached_tokens, u.estimated) for (channel, day, label), u in add.configs.items()],
    )
    await tx.executemany(
        "INSERT INTO usage_models (platform, workspace, channel, day, model, calls, failures, prompt_tokens,"
        " completion_tokens, cached_tokens, estimated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (platform, workspace, channel, day, model) DO UPDATE SET"
        " calls = usage_models.calls + excluded.calls,"
        " failures = usage_models.failures + excluded.failures,"
        " prompt_tokens = usage_models.prompt_tokens + excluded.prompt_tokens,"
        " completion_tokens = usage_models.completion_tokens + excluded.completion_tokens,"
        " cached_tokens = usage_models.cached_tokens + excluded.cached_tokens,"
        " estimated = usage_models.estimated + excluded.estimated",
        [(*channel, day, model, m.calls, m.failures, m.prompt_tokens, m.completion_tokens, m.cached_tokens,
          m.estimated)
         for (channel, day, model), m in add.models.items()],
    )
    await tx.executemany(
        "INSERT INTO usage_latency (platform, workspace, channel, day, config_label, bucket, answers)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, workspace, channel, day, config_label, bucket)"
        " DO UPDATE SET answers = usage_latency.answers + excluded.answers",
        [(*channel, day, label, bucket, count) for (channel, day, label), u in add.configs.items()
         for bucket, count in u.latency.items()],
    )


def _config_usage(label: str, sums: Sequence[Any]) -> ConfigUsage:
    """A ConfigUsage from the columns of `_SUMS`, in order."""
    answers, failures, calls, prompt, completion, cost, unpriced, up, down, cached, estimated = sums
    return ConfigUsage(label, answers, failures, calls, prompt, completion, cost, unpriced, up, down,
                       cached_tokens=cached, estimated=estimated)


class UsageRepository:
    """Folds finished runs into daily rollups and reads them back."""

    def __init__(self, shared: Connection) -> None:
        self._db = shared

    async def fold(self) -> int:
        """Count every finished run not counted yet into the rollups; returns how many were folded."""
        folded = 0
        while True:
            async with self._db.transaction() as tx:
                # Claim and read in one statement: a run is counted by exactly one fold. The outer
                # `usage_counted = 0` is rechecked after waiting on a row another fold (a replica) holds.
                runs = await tx.fetchall(
                    "UPDATE runs SET usage_counted = 1 WHERE usage_counted = 0"
                    " AND id IN (SELECT id FROM runs WHERE usage_counted = 0"
                    f" AND status IN {_COUNTED} ORDER BY id LIMIT {FOLD_BATCH}) RETURNING {_RUN_FIELDS}")
                if runs:
                    await _store(tx, _contributions(runs, await _proposers_of(tx, [r[0] for r in runs])))
            folded += len(runs)
            if len(runs) < FOLD_BATCH:
                return folded

    async def report(self, starts: Sequence[int], channel: ChannelKey | None = None, *,
                     channel_id: str | None = None, pending: bool = False) -> list[Period]:
        """Usage from each of `starts` (UTC days) through today, for one channel (or a channel id on any
        platform, or everywhere), summed in SQL so the work doesn't grow with the number of runs.

        `pending` adds the finished runs no fold has counted yet, without writing (read-only callers).
        """
        bands = _Bands(starts)
        band, band_params = bands.sql()
        where, params = "day >= ?", list[object]([bands.starts[0]])
        if channel is not None:
            where += " AND platform = ? AND workspace = ? AND channel = ?"
            params += [channel.platform, channel.workspace, channel.channel]
        elif channel_id is not None:
            where += " AND channel = ?"
            params.append(channel_id)
        args = [*band_params, *params]
        async with self._db.snapshot() as reads:
            fetch = reads.fetchall
            configs = await fetch(f"SELECT {band}, config_label, {_SUMS} FROM usage_configs WHERE {where}"
                                  " GROUP BY 1, 2", args)
            latency = await fetch(f"SELECT {band}, config_label, bucket, SUM(answers) FROM usage_latency"
                                  f" WHERE {where} GROUP BY 1, 2, 3", args)
            models = await fetch(f"SELECT {band}, model, {_MODEL_SUMS} FROM usage_models WHERE {where}"
                                 " GROUP BY 1, 2", args)
            channels: list[Row] = []
            channel_latency: list[Row] = []
            if channel is None:  # a breakdown by channel only makes sense across several
                channels = list(await fetch(f"SELECT {band}, platform, workspace, channel, {_SUMS} FROM"
                                            f" usage_configs WHERE {where} GROUP BY 1, 2, 3, 4", args))
                channel_latency = list(await fetch(
                    f"SELECT {band}, platform, workspace, channel, bucket, SUM(answers) FROM usage_latency"
                    f" WHERE {where} GROUP BY 1, 2, 3, 4, 5", args))
        by_config = {(r[0], r[1]): _config_usage(r[1], r[2:13]) for r in configs}
        for r in latency:
            by_config.setdefault((r[0], r[1]), ConfigUsage(r[1])).latency[r[2]] = r[3]
        for (b, _), usage in by_config.items():
            bands.add_config(b, usage)
        by_channel = {(r[0], (r[1], r[2], r[3])): _config_usage(":".join(r[1:4]), r[4:15]) for r in channels}
        for r in channel_latency:
            by_channel.setdefault((r[0], (r[1], r[2], r[3])), ConfigUsage(":".join(r[1:4]))).latency[r[4]] = r[5]
        for (b, key), usage in by_channel.items():
            bands.add_channel(b, key, usage)
        for r in models:
            bands.add_model(r[0], ModelUsage(r[1], *r[2:8]))
        if pending:
            bands.add_days(await self._pending(channel, channel_id, bands.starts[0]))
        return bands.periods

    async def _pending(self, channel: ChannelKey | None, channel_id: str | None, since_day: int) -> DayUsage:
        # Straight from the partial index of uncounted runs (a handful normally), then filtered here:
        # a filter on time or channel in SQL would steer SQLite onto an index over every run.
        found = await self._db.fetchall(
            f"SELECT {_RUN_FIELDS} FROM runs WHERE usage_counted = 0 AND status IN {_COUNTED}")
        runs = [r for r in found if day_of(r[4]) >= since_day
                and (channel is None or (r[1], r[2], r[3]) == (channel.platform, channel.workspace, channel.channel))
                and (channel_id is None or r[3] == channel_id)]
        return _contributions(runs, await _proposers_of(self._db, [r[0] for r in runs]))
