"""`moa-bot eval --chart`: accuracy against cost per answer, with the 95% intervals (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from moa.eval.report import Report

MISSING_MATPLOTLIB = ("--chart needs matplotlib, which is not installed: pip install 'moa-bot[chart]'. "
                      "The report above and --json are complete without it.")


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
    by_cost = all(c.cost_per_answer is not None for c in configs)
    xs = [(c.cost_per_answer or 0.0) if by_cost else c.calls / c.n for c in configs]
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    for c, x in zip(configs, xs, strict=True):
        axes.errorbar([x], [c.accuracy * 100], yerr=[[(c.accuracy - c.ci_low) * 100], [(c.ci_high - c.accuracy) * 100]],
                      fmt="o", capsize=4)
        axes.annotate(c.name, (x, c.accuracy * 100), textcoords="offset points", xytext=(6, 6))
    axes.set_xlabel("cost per answer (USD)" if by_cost else "calls per answer (a price is unknown)")
    axes.set_ylabel("accuracy, % (95% interval)")
    axes.set_ylim(0, 100)
    axes.set_title(f"{report.set_name}: {report.questions} questions")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as err:
        return f"--chart: cannot write {path}: {err.strerror or err}."
    finally:
        plt.close(figure)
    return None
