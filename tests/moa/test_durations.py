"""moa.durations: the words every reply, sentence and table uses for a length of time."""

from __future__ import annotations

from moa.durations import measured, rounded, told


def test_a_measured_time_reads_at_a_glance() -> None:
    assert [measured(v) for v in (0.44, 12.34, 59.9, 125)] == ["0.4 s", "12.3 s", "59.9 s", "2 min 5 s"]


def test_seconds_in_sentences() -> None:
    assert told(120) == "120 s" and told(2.54) == "2.5 s" and told(10) == "10 s"


def test_a_wait_is_said_roughly() -> None:
    assert [rounded(v) for v in (0.2, 3.4, 38, 119, 150, 7200)] == ["1 s", "3 s", "40 s", "120 s", "2 min", "2.0 h"]
