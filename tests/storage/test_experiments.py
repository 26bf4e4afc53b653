"""Experiments in a channel: one running at a time, arms in turn, each run's arm, the standing's raw data."""

from __future__ import annotations

from storage import ChannelKey, Database

CHANNEL = ChannelKey("slack", "T1", "C1")
LITE = ("lite", '{"main_model": "m"}')
ARTICLE = ("article", '{"main_model": "n"}')


async def _answered(db: Database, arm_cost: float, total_s: float) -> int:
    run_id = await db.runs.start(CHANNEL, "t", f"m{arm_cost}{total_s}", "q", "{}")
    await db.runs.finish(run_id, status="done", answer="a", error=None, proposers=[], total_s=total_s,
                         prompt_tokens=10, completion_tokens=5, cost_usd=arm_cost)
    return run_id


async def test_one_experiment_per_channel_and_arms_take_turns(db: Database) -> None:
    started = await db.experiments.start(CHANNEL, LITE, ARTICLE, "U1", now=100.0)
    assert started is not None and (started.arm_a, started.arm_b, started.started_by) == ("lite", "article", "U1")
    assert await db.experiments.start(CHANNEL, ARTICLE, LITE, "U2") is None  # one at a time
    assert await db.experiments.running(CHANNEL) == started
    assert await db.experiments.running(ChannelKey("slack", "T1", "C2")) is None
    assert [await db.experiments.take_turn(started.id) for _ in range(5)] == ["A", "B", "A", "B", "A"]


async def test_the_standing_reads_each_arms_runs_votes_time_and_cost(db: Database) -> None:
    experiment = await db.experiments.start(CHANNEL, LITE, ARTICLE, "U1")
    assert experiment is not None
    a, b = await _answered(db, 0.001, 1.5), await _answered(db, 0.004, 3.0)
    await db.experiments.record(a, experiment.id, "A")
    await db.experiments.record(b, experiment.id, "B")
    await db.experiments.record(b, experiment.id, "B")  # recorded once
    await db.votes.cast(CHANNEL, a, "U2", 1)
    await db.votes.cast(CHANNEL, a, "U3", 1)
    await db.votes.cast(CHANNEL, b, "U2", -1)
    runs = await db.experiments.runs(experiment.id)
    assert [(r.arm, r.status, r.total_s, r.cost_usd, r.up, r.down) for r in runs] == [
        ("A", "done", 1.5, 0.001, 2, 0), ("B", "done", 3.0, 0.004, 0, 1)]
    await db.votes.cast(CHANNEL, b, "U2", 1)  # U2 changes their mind: one vote still
    assert sorted(await db.experiments.member_votes(experiment.id)) == [("A", "U2", 1), ("A", "U3", 1),
                                                                       ("B", "U2", 1)]
    assert await db.forget(CHANNEL) == 2  # `/moa forget`: the runs go, and their arms with them
    assert await db.experiments.runs(experiment.id) == []


async def test_stop_ends_it_names_what_was_adopted_and_a_new_one_may_start(db: Database) -> None:
    assert await db.experiments.stop(CHANNEL) is None  # nothing running
    experiment = await db.experiments.start(CHANNEL, LITE, ARTICLE, "U1")
    assert experiment is not None
    stopped = await db.experiments.stop(CHANNEL, adopted="B", now=200.0)
    assert stopped is not None and stopped.stopped_at == 200.0 and stopped.adopted == "B"
    assert await db.experiments.running(CHANNEL) is None
    assert await db.experiments.take_turn(experiment.id) is None  # a stopped experiment gives no more turns
    assert await db.experiments.start(CHANNEL, ARTICLE, LITE, "U1") is not None
