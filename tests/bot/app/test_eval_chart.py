"""`moa-bot eval --chart` reads for local models too: where every config costs $0 the x axis is time (or
tokens, or calls) — whatever tells the configs apart — and the names sit in a legend, never over each other."""

from __future__ import annotations

from pathlib import Path

from bot.app.eval_chart import chart_axis, draw_chart
from moa.eval.report import ConfigSummary, Report


def summary(name: str, *, cost: float | None, seconds: float, tokens: int = 1000, calls: int = 10) -> ConfigSummary:
    return ConfigSummary(name=name, n=10, correct=7, failed=0, ci_low=0.4, ci_high=0.9, calls=calls,
                         tokens_in=tokens, tokens_cached=None, tokens_out=tokens, cost_usd=cost, median_s=seconds,
                         p95_s=seconds, first_word_s=None, failures=(), tokens_estimated=False)


def test_costs_that_differ_are_the_axis() -> None:
    label, xs = chart_axis([summary("a", cost=0.1, seconds=1), summary("b", cost=0.3, seconds=1)])
    assert label == "cost per answer (USD)" and xs == [0.01, 0.03]


def test_every_config_free_puts_time_on_the_axis() -> None:
    label, xs = chart_axis([summary("local-lite", cost=0.0, seconds=12.0),
                            summary("local-deep", cost=0.0, seconds=40.0)])
    assert label == "median seconds per answer" and xs == [12.0, 40.0]


def test_free_and_equally_fast_configs_are_told_apart_by_tokens_then_calls() -> None:
    label, _ = chart_axis([summary("a", cost=0.0, seconds=5, tokens=100),
                           summary("b", cost=0.0, seconds=5, tokens=900)])
    assert label == "tokens per answer (in + out)"
    label, _ = chart_axis([summary("a", cost=None, seconds=5, calls=10), summary("b", cost=None, seconds=5, calls=40)])
    assert label == "calls per answer"


def test_the_chart_of_configs_at_one_point_is_written(tmp_path: Path) -> None:
    configs = [summary(f"config {i}", cost=0.0, seconds=5) for i in range(4)]
    report = Report(set_name="decimals", questions=10, configs=tuple(configs), pairs=())
    assert draw_chart(report, tmp_path / "chart.png") is None
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
