"""How long an eval run takes, told only from what is known: the answers timed so far."""

from __future__ import annotations

from moa.eval.plan import Pace
from moa.eval.results import Outcome
from moa.eval.runner import EvalConfig
from moa.eval.solo import SOLO_MAX_TOKENS, solo_max_tokens


def test_the_time_left_is_each_configs_answers_to_go_times_its_median_answer() -> None:
    pace = Pace()
    for seconds in (40.0, 45.0, 39.0):
        pace.add("2x2", seconds)
    pace.add("single:m", 12.0)
    assert pace.time_left({"2x2": 3, "single:m": 4}) == 3 * 40.0 + 4 * 12.0


def test_a_config_with_answers_to_go_and_none_timed_leaves_the_time_unknown() -> None:
    pace = Pace()
    pace.add("2x2", 40.0)
    assert pace.time_left({"2x2": 3, "single:m": 4}) is None
    assert pace.untimed({"2x2": 3, "single:m": 4}) == ["single:m"]
    assert pace.time_left({"2x2": 3, "single:m": 0}) == 120.0  # nothing left of it: it does not matter


def test_kept_answers_count_only_for_the_same_config() -> None:
    solo = EvalConfig("single:m", solo="m", solo_max_tokens=128)
    kept = [Outcome("q1", "single:m", solo.key, True, "1", "1", seconds=12.0),
            Outcome("q2", "single:m", "an-older-config", True, "1", "1", seconds=90.0)]
    assert Pace.of(kept, [solo]).per_answer("single:m") == 12.0


def test_the_baseline_budget_follows_the_compared_configs_unless_chosen() -> None:
    assert solo_max_tokens([128]) == 128
    assert solo_max_tokens([128, 512]) == 512  # as much as the most generous config compared
    assert solo_max_tokens([]) == SOLO_MAX_TOKENS
    assert solo_max_tokens([128], chosen=300) == 300


def test_answers_kept_at_the_old_fixed_budget_stay_valid() -> None:
    assert EvalConfig("single:m", solo="m").key == EvalConfig("single:m", solo="m", solo_max_tokens=2048).key
    assert EvalConfig("single:m", solo="m").key != EvalConfig("single:m", solo="m", solo_max_tokens=128).key
