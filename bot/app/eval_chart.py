"""`moa-bot eval --chart`: accuracy against what an answer costs, with the 95% intervals (matplotlib).

The x axis is the first measure that tells the configs apart: cost per answer, else (every config free,
as local models are, or a price unknown) median seconds per answer, else tokens per answer, else calls
per answer. Names go in a legend beside the plot, one colour and marker each, so they never overlap
however close the points are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from moa.eval.report import ConfigSummary, Report

MISSING_MATPLOTLIB = ("--chart needs matplotlib, which is not installed: pip install 'moa-bot[chart]'. "
                      "The report above and --json are complete without it.")
MARKERS = "osD^vP*Xh<>"


def chart_axis(configs: Sequence[ConfigSummary]) -> tuple[str, list[float]]:
    """The x axis's label and each config's value on it: the first measure known for every config that
    differs between them (a single config gets the first one known)."""
    measures: list[tuple[str, list[float | None]]] = [
        ("cost per answer (USD)", [c.cost_per_answer for c in configs]),
        ("median seconds per answer", [c.median_s for c in configs]),
        ("tokens per answer (in + out)", [(c.tokens_in + c.tokens_out) / c.n for c in configs]),
        ("calls per answer", [c.calls / c.n for c in configs]),
    ]
    known = [(label, [v for v in values if v is not None]) for label, values in measures
             if all(v is not None for v in values)]
    for label, values in known:
        if len(configs) == 1 or max(values) > min(values):
            return label, values
    return known[-1]


def draw_chart(report: Report, path: Path) -> str | None:
    """Write the chart as a PNG; a sentence instead when it cannot be drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: never open a window
        import matplotlib.pyplot as plt
    except ImportError:
        return MISSING_MATPLOTLIB
    configs = [c for c in report.configs if c.n]
    if not configs:
        return "--chart: nothing was graded, so there is nothing to draw."
    label, xs = chart_axis(configs)
    figure, axes = plt.subplots(figsize=(8.5, 4.5), dpi=110)
    for i, (c, x) in enumerate(zip(configs, xs, strict=True)):
        axes.errorbar([x], [c.accuracy * 100], yerr=[[(c.accuracy - c.ci_low) * 100], [(c.ci_high - c.accuracy) * 100]],
                      fmt=MARKERS[i % len(MARKERS)], capsize=4, label=f"{c.name} ({c.accuracy:.0%})")
    axes.set_xlabel(label)
    axes.set_ylabel("accuracy, % (95% interval)")
    axes.set_ylim(0, 100)
    if min(xs) == max(xs):  # one value: a readable span around it, not ±0.04 of nothing
        axes.set_xlim(xs[0] * 0.5 if xs[0] else -1, xs[0] * 1.5 if xs[0] else 1)
    axes.set_title(f"{report.set_name}: {report.questions} questions")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize="small")
    figure.tight_layout()
    try:
        figure.savefig(path, format="png", bbox_inches="tight")
    except OSError as err:
        return f"--chart: cannot write {path}: {err.strerror or err}."
    finally:
        plt.close(figure)
    return None
