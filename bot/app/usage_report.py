"""`moa-bot usage`: what the bot spent across channels, on the terminal (rich tables) or as JSON.

It opens the database read-only, so it is safe next to a running bot: runs the bot has not folded into
the usage tables yet are counted in memory, nothing is written.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import time
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from bot.commands.usage import compact, counted, duration, estimate_note, money, votes
from bot.settings import Settings
from storage.db import Database
from storage.errors import StorageError
from storage.postgres import DatabaseUnreachable
from storage.usage import DAY_S, ConfigUsage, ModelUsage, Period, day_of


def unreadable(err: BaseException) -> str:
    """Why a database could not be read, in words an operator can act on."""
    text = str(err).rstrip(".") or type(err).__name__
    lowered = text.lower()
    if "not a database" in lowered or "malformed" in lowered or "file is encrypted" in lowered:
        return "the file is not a readable moa-bot database (damaged, or another kind of file)"
    if "locked" in lowered or "busy" in lowered:
        return "another process holds it locked; try again when it has finished"
    if isinstance(err, PermissionError) or "unable to open" in lowered or "readonly" in lowered:
        return f"this user may not read it ({text})"
    return text


def _date(day: int) -> str:
    return datetime.fromtimestamp(day * DAY_S, tz=UTC).strftime("%Y-%m-%d")


def _spans(days: int) -> list[tuple[str, int]]:
    """today, 7 days (when shorter than the report) and the report's days."""
    shorter = [(name, n) for name, n in (("today", 1), ("7 days", 7)) if n < days]
    return [*shorter, ("today" if days == 1 else f"{days} days", days)]


def _config_json(usage: ConfigUsage) -> dict[str, Any]:
    return {"answers": usage.answers, "failures": usage.failures, "model_calls": usage.calls,
            "tokens_in": usage.prompt_tokens, "tokens_cached_in": usage.cached_tokens,
            "tokens_out": usage.completion_tokens, "cost_usd": round(usage.cost_usd, 6),
            "answers_without_price": usage.unpriced, "answers_estimated": usage.estimated,
            "median_s": _round(usage.median_s), "p95_s": _round(usage.p95_s), "up": usage.up, "down": usage.down}


def _model_json(m: ModelUsage) -> dict[str, Any]:
    return {"model": m.model, "calls": m.calls, "failures": m.failures, "tokens_in": m.prompt_tokens,
            "tokens_cached_in": m.cached_tokens, "tokens_out": m.completion_tokens, "calls_estimated": m.estimated}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def report_json(periods: dict[str, Period], widest: Period, first_day: int, last_day: int) -> dict[str, Any]:
    """The report as JSON-ready data: totals per period, then the widest period by channel, config, model."""
    return {
        "from": _date(first_day), "to": _date(last_day), "days_are": "UTC",
        "periods": {name: _config_json(p.total) for name, p in periods.items()},
        "channels": [{"platform": key[0], "workspace": key[1], "channel": key[2], **_config_json(u)}
                     for key, u in sorted(widest.channels.items(), key=lambda kv: -kv[1].answers)],
        "configs": [{"config": label, **_config_json(u)}
                    for label, u in sorted(widest.configs.items(), key=lambda kv: -kv[1].answers)],
        "models": [_model_json(m) for m in sorted(widest.models.values(), key=lambda m: -m.calls)],
    }


def _table(title: str, first: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(first, no_wrap=True)
    return table


def _usage_columns(table: Table) -> None:
    for name in ("answers", "calls", "in", "cached", "out", "cost", "median", "p95", "failed", "👍/👎"):
        table.add_column(name, justify="right", no_wrap=True)


def _usage_cells(u: ConfigUsage) -> list[str]:
    return [str(u.answers), compact(u.calls), counted(u.prompt_tokens, u.estimated), compact(u.cached_tokens),
            counted(u.completion_tokens, u.estimated), money(u),
            duration(u.median_s), duration(u.p95_s), str(u.failures), votes(u)]


def print_report(console: Console, periods: dict[str, Period], widest: Period, first_day: int, last_day: int) -> None:
    """Totals per period, then the widest period by channel, by config and by model."""
    span = f"{_date(first_day)} – {_date(last_day)} (UTC)"
    totals = _table(f"moa-bot usage, {span}; tokens in (of them cached) and out", "period")
    _usage_columns(totals)
    for name, period in periods.items():
        totals.add_row(name, *_usage_cells(period.total))
    console.print(totals)
    if not widest.total.answers and not widest.total.failures:
        console.print("No answers in this period.")
        return
    channels = _table("By channel", "channel")
    _usage_columns(channels)
    for key, u in sorted(widest.channels.items(), key=lambda kv: -kv[1].answers):
        channels.add_row(f"{key[0]} {key[2]}", *_usage_cells(u))
    configs = _table("By config", "config")
    _usage_columns(configs)
    for label, u in sorted(widest.configs.items(), key=lambda kv: -kv[1].answers):
        configs.add_row(label or "(before labels)", *_usage_cells(u))
    models = _table("By model (the aggregator included)", "model")
    for name in ("calls", "failed", "tokens in", "cached in", "tokens out"):
        models.add_column(name, justify="right", no_wrap=True)
    for m in sorted(widest.models.values(), key=lambda m: -m.calls):
        models.add_row(m.model, str(m.calls), str(m.failures), counted(m.prompt_tokens, m.estimated),
                       compact(m.cached_tokens), counted(m.completion_tokens, m.estimated))
    for table in (channels, configs, models):
        console.print(table)
    for line in estimate_note(widest):
        console.print(line, highlight=False)


async def usage(settings: Settings, days: int, channel: str | None, as_json: bool,
                now: float | None = None) -> int:
    """The `moa-bot usage` command; returns the exit status."""
    today = day_of(time.time() if now is None else now)
    if not 1 <= days <= today + 1:  # dates start on 1970-01-01
        print(f"--days must be from 1 to {today + 1:,} (back to {_date(0)}), not {days:,}.", file=sys.stderr)
        return 2
    where = "MOA_DATABASE_URL" if settings.database_url else f"MOA_DB_PATH={settings.db_path}"
    try:
        db = await Database.open_read_only(settings.database)
    except (FileNotFoundError, RuntimeError) as err:
        print(f"{err} ({where}).", file=sys.stderr)
        return 1
    except DatabaseUnreachable as err:  # already a sentence naming MOA_DATABASE_URL
        print(err, file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError, StorageError) as err:
        print(f"Cannot read the usage from {where}: {unreadable(err)}.", file=sys.stderr)
        return 1
    first = today - days + 1
    try:
        spans = _spans(days)
        found = await db.usage.report([today - n + 1 for _, n in spans], channel_id=channel, pending=True)
    except (sqlite3.Error, OSError, StorageError) as err:
        print(f"Cannot read the usage from {where}: {unreadable(err)}.", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            await db.close()
    # report() orders periods by start day: the widest first
    periods = dict(zip([name for name, _ in reversed(spans)], found, strict=True))
    periods = {name: periods[name] for name, _ in spans}
    widest = periods[spans[-1][0]]
    if as_json:
        print(json.dumps(report_json(periods, widest, first, today), indent=2, ensure_ascii=False))
    else:
        console = Console()
        if not console.is_terminal:  # piped into a file or a pager: don't squeeze the tables to 80 columns
            console = Console(width=200)
        print_report(console, periods, widest, first, today)
    return 0
