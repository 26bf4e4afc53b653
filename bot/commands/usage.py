"""`/moa usage`: what a channel spent today, in 7 and in 30 days, how fast, and 👍/👎 per config and model.

The reply is fixed-width tables in a code block, short enough for one Discord message (2,000 chars)
and one Slack markdown block: at most `MAX_ROWS` configs and models, the rest summed up in a line.
"""

from __future__ import annotations

import time
import unicodedata

from bot.commands.deps import CommandDeps
from bot.commands.grammar import CommandError
from bot.text.render import Style
from moa.durations import measured
from storage.models import ChannelKey
from storage.usage import ConfigUsage, ModelUsage, Period, day_of

MAX_ROWS = 6
PERIODS = (("today", 1), ("7 days", 7), ("30 days", 30))
UTC_NOTE = "days are UTC; 7 and 30 days include today"
ESTIMATE_MARK = "≈"
ESTIMATE_NOTE = "≈: counted from the text, the server reported none"


def compact(n: int) -> str:
    """1234 → '1.2k', 5_600_000 → '5.6M'."""
    for size, unit in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if abs(n) >= size:
            value = n / size
            return f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return str(n)


def counted(n: int, estimated: int) -> str:
    """compact(n), marked ≈ when `estimated` (answers or calls) of what it sums were counted from the text."""
    return (ESTIMATE_MARK if estimated else "") + compact(n)


def estimate_note(period: Period) -> list[str]:
    """The line explaining ≈, when some total of `period` includes estimates."""
    return [ESTIMATE_NOTE] if period.total.estimated or any(m.estimated for m in period.models.values()) else []


def money(usage: ConfigUsage) -> str:
    """'$0.0123', with '+' when some answers used models without a known price."""
    if usage.answers and usage.unpriced == usage.answers:
        return "?"
    value = usage.cost_usd
    text = f"${value:.4f}" if value < 1 else f"${value:,.2f}"
    return text + ("+" if usage.unpriced else "")


def duration(seconds: float | None) -> str:
    """A table cell: a measured time, or '–' when there is none."""
    return "–" if seconds is None else measured(seconds)


def votes(usage: ConfigUsage) -> str:
    return f"{usage.up}/{usage.down}"


def _width(text: str) -> int:
    """Columns a string takes in a monospace font: emoji are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) == "W" else 1 for ch in text)


def _cell(text: str, width: int, left: bool = False) -> str:
    pad = " " * max(0, width - _width(text))
    return text + pad if left else pad + text


def table(header: list[str], rows: list[list[str]]) -> str:
    """Rows under a header, first column left-aligned, the rest right-aligned."""
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(_cell(c, widths[i], left=i == 0) for i, c in enumerate(row)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


def period_rows(periods: list[Period]) -> list[list[str]]:
    totals = [p.total for p in periods]
    return [
        ["answers", *(str(t.answers) for t in totals)],
        ["model calls", *(compact(t.calls) for t in totals)],
        ["tokens in", *(counted(t.prompt_tokens, t.estimated) for t in totals)],
        ["of them cached", *(compact(t.cached_tokens) for t in totals)],
        ["tokens out", *(counted(t.completion_tokens, t.estimated) for t in totals)],
        ["cost", *(money(t) for t in totals)],
        ["median time", *(duration(t.median_s) for t in totals)],
        ["p95 time", *(duration(t.p95_s) for t in totals)],
        ["failures", *(str(t.failures) for t in totals)],
        ["👍/👎", *(votes(t) for t in totals)],
    ]


def config_rows(period: Period, limit: int = MAX_ROWS) -> tuple[list[list[str]], int]:
    """Busiest configs first; returns the rows and how many configs were left out."""
    ranked = sorted(period.configs.values(), key=lambda c: (-(c.answers + c.failures), c.label))
    rows = [[c.label or "(before labels)", str(c.answers), duration(c.median_s), duration(c.p95_s), votes(c),
             money(c)] for c in ranked[:limit]]
    return rows, max(0, len(ranked) - limit)


def model_rows(period: Period, limit: int = MAX_ROWS) -> tuple[list[list[str]], int]:
    ranked: list[ModelUsage] = sorted(period.models.values(), key=lambda m: (-m.calls, m.model))
    rows = [[_short(m.model), str(m.calls), str(m.failures), counted(m.prompt_tokens, m.estimated),
             compact(m.cached_tokens), counted(m.completion_tokens, m.estimated)] for m in ranked[:limit]]
    return rows, max(0, len(ranked) - limit)


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _more(left: int, what: str) -> str:
    return f"\n… and {left} more {what}" if left else ""


def render_usage(periods: list[Period], where: str, style: Style) -> str:
    """The whole reply: the three periods side by side, then the 30 days by config and by model."""
    widest = periods[-1]
    if not widest.total.answers and not widest.total.failures:
        return f"📊 No answers {where} in the last 30 days yet ({UTC_NOTE})."
    configs, more_configs = config_rows(widest)
    models, more_models = model_rows(widest)
    return "\n".join([
        f"📊 {style.bold('Usage ' + where)} ({UTC_NOTE})",
        "```",
        table(["", *(name for name, _ in PERIODS)], period_rows(periods)),
        "```",
        f"{style.bold('By config')}, 30 days:",
        "```",
        table(["config", "answers", "median", "p95", "👍/👎", "cost"], configs) + _more(more_configs, "configs"),
        "```",
        f"{style.bold('By model')}, 30 days (the aggregator included):",
        "```",
        table(["model", "calls", "failed", "in", "cached", "out"], models) + _more(more_models, "models"),
        "```",
        *estimate_note(widest),
    ])


async def usage_text(channel: ChannelKey, deps: CommandDeps, style: Style, now: float | None = None) -> str:
    """`/moa usage` for `channel`: counts the runs finished since the last report, then reads the rollups."""
    if deps.usage is None:
        raise CommandError("Usage isn't recorded here.")
    today = day_of(time.time() if now is None else now)
    await deps.usage.fold()
    widest_first = await deps.usage.report([today - span + 1 for _, span in reversed(PERIODS)], channel)
    return render_usage(list(reversed(widest_first)), "in this channel", style)
