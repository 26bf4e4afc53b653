"""`/moa experiment`: admins start and stop one, anyone reads the standing; bad arms change nothing."""

from __future__ import annotations

import pytest

from bot.commands import CommandDeps
from bot.commands.run import ADMIN_REFUSAL
from moa.config.schema import Limits, preset
from storage.db import Database
from tests.bot.commands.helpers import CHANNEL, Catalog, run, stored


@pytest.fixture
def xdeps(db: Database, catalog: Catalog) -> CommandDeps:
    return CommandDeps(configs=db.configs, history=db, models=catalog, limits=Limits(), usage=db.usage,
                       budgets=db.budgets, experiments=db.experiments)


async def test_only_admins_start_or_stop_one_and_anyone_reads_the_standing(db: Database, xdeps: CommandDeps) -> None:
    assert (await run(xdeps, "experiment lite article", admin=False)).text == ADMIN_REFUSAL
    assert await db.experiments.running(CHANNEL) is None
    started = await run(xdeps, "experiment lite article")
    assert started.changed and started.text.startswith("🧪 Experiment started") and "A `lite`" in started.text
    standing = (await run(xdeps, "experiment", admin=False)).text
    assert "A `lite`" in standing and "B `article`" in standing and "0 answers" in standing
    assert "Not clear yet" in standing
    assert (await run(xdeps, "experiment stop", admin=False)).text == ADMIN_REFUSAL
    assert await db.experiments.running(CHANNEL) is not None
    shown = (await run(xdeps, "show", admin=False)).text
    assert "An experiment runs here: answers alternate between A `lite` and B `article`" in shown


async def test_an_unknown_or_repeated_arm_is_a_sentence_and_changes_nothing(db: Database, xdeps: CommandDeps) -> None:
    reply = await run(xdeps, "experiment lite turbo")
    assert "There is no setup called `turbo`" in reply.text and "`current`" in reply.text
    assert reply.text.endswith("Nothing changed.") and not reply.changed
    assert "are the same setup" in (await run(xdeps, "experiment lite lite")).text
    assert "Name two setups" in (await run(xdeps, "experiment lite")).text
    assert await db.experiments.running(CHANNEL) is None
    await run(xdeps, "experiment current deep")
    again = await run(xdeps, "experiment lite article")
    assert "already running here (`current` vs `deep`)" in again.text
    assert "is not an arm of this experiment" in (await run(xdeps, "experiment stop lite")).text
    assert await db.experiments.running(CHANNEL) is not None


async def test_stop_adopting_an_arm_makes_it_the_channels_setup(db: Database, xdeps: CommandDeps) -> None:
    await run(xdeps, "experiment lite self-moa")
    reply = await run(xdeps, "experiment stop B")
    assert reply.changed and "now uses B `self-moa`" in reply.text
    assert await stored(db) == preset("self-moa")
    assert await db.experiments.running(CHANNEL) is None
    assert (await run(xdeps, "experiment stop")).text.startswith("No experiment is running here.")
    await run(xdeps, "experiment lite article")
    kept = await run(xdeps, "experiment stop")
    assert "setup is unchanged" in kept.text and await stored(db) == preset("self-moa")
    assert (await run(xdeps, "experiment", admin=False)).text.startswith("No experiment is running here.")


async def test_the_standing_says_a_difference_is_clear_only_when_the_votes_show_it(
        db: Database, xdeps: CommandDeps) -> None:
    await run(xdeps, "experiment lite article")
    experiment = await db.experiments.running(CHANNEL)
    assert experiment is not None

    async def answered(arm: str, votes: list[int]) -> None:
        run_id = await db.runs.start(CHANNEL, "t", f"m{arm}{len(votes)}{votes}", "q", "{}")
        await db.runs.finish(run_id, status="done", answer="a", error=None, proposers=[], total_s=2.0,
                             prompt_tokens=1, completion_tokens=1, cost_usd=0.001)
        await db.experiments.record(run_id, experiment.id, arm)  # type: ignore[arg-type]
        for i, vote in enumerate(votes):
            await db.votes.cast(CHANNEL, run_id, f"U{i}", vote)

    await answered("A", [1, 1])
    await answered("B", [-1, 1])
    assert "Not clear yet: -50 points liked, B − A" in (await run(xdeps, "experiment")).text
    await answered("A", [1] * 12)
    await answered("B", [-1] * 12)
    standing = (await run(xdeps, "experiment")).text
    assert "Clear: A `lite` is liked more" in standing
    assert "A `lite`*: 2 answers · 👍 14 / 👎 0 from 12 members — 100% liked" in standing
    assert "median 2.0 s" in standing


async def _answer(db: Database, arm: str, votes: dict[str, int]) -> int:
    experiment = await db.experiments.running(CHANNEL)
    assert experiment is not None
    run_id = await db.runs.start(CHANNEL, "t", f"m{arm}{sorted(votes.items())}{id(votes)}", "q", "{}")
    await db.runs.finish(run_id, status="done", answer="a", error=None, proposers=[], total_s=2.0,
                         prompt_tokens=1, completion_tokens=1, cost_usd=0.001)
    await db.experiments.record(run_id, experiment.id, arm)  # type: ignore[arg-type]
    for member, vote in votes.items():
        await db.votes.cast(CHANNEL, run_id, member, vote)
    return run_id


async def test_one_member_clicking_many_times_is_one_member_and_decides_nothing(
        db: Database, xdeps: CommandDeps) -> None:
    await run(xdeps, "experiment lite article")
    for _ in range(6):  # one member: 👎 on every A answer, 👍 on every B answer — 12 clicks
        await _answer(db, "A", {"U_ZED": -1})
        await _answer(db, "B", {"U_ZED": 1})
    standing = (await run(xdeps, "experiment")).text
    assert "👍 0 / 👎 6 from 1 member — 0% liked" in standing and "👍 6 / 👎 0 from 1 member — 100% liked" in standing
    assert "Clear" not in standing
    assert "a clear difference needs votes from at least 5 members on each arm (A has 1 member, B 1 member)" in standing


async def test_many_members_agreeing_make_a_clear_difference_and_a_changed_vote_counts_once(
        db: Database, xdeps: CommandDeps) -> None:
    await run(xdeps, "experiment lite article")
    members = [f"U{i}" for i in range(8)]
    for _ in range(2):
        await _answer(db, "A", {m: -1 for m in members})
        await _answer(db, "B", {m: 1 for m in members})
    changed = await _answer(db, "B", {"U0": 1})
    await db.votes.cast(CHANNEL, changed, "U0", -1)  # U0 changes their mind on that answer
    standing = (await run(xdeps, "experiment")).text
    assert "👍 16 / 👎 1 from 8 members" in standing  # U0's changed vote is one vote, U0 one member
    assert "Clear: B `article` is liked more" in standing and "each member counted once per arm" in standing


async def test_a_change_during_an_experiment_says_what_it_changes_and_stop_says_what_it_restores(
        db: Database, xdeps: CommandDeps) -> None:
    await run(xdeps, "experiment current lite")
    changed = (await run(xdeps, "preset deep")).text
    assert "answers keep alternating between A `current` and B `lite`" in changed
    assert "takes effect only after `/moa experiment stop`" in changed
    assert await stored(db) == preset("deep")  # the change is kept for after the experiment
    stopped = (await run(xdeps, "experiment stop A")).text
    assert "now uses A `current` — this channel's setup as it was when the experiment started" in stopped
    assert "the setup changes made here since then are undone" in stopped
    assert await stored(db) != preset("deep")
    assert "experiment is running" not in (await run(xdeps, "layers 2")).text  # none runs now


async def test_the_no_experiment_sentence_is_whole(xdeps: CommandDeps) -> None:
    text = (await run(xdeps, "experiment", admin=False)).text
    assert text == ("No experiment is running here. Admins start one with `/moa experiment A B`: answers then "
                    "alternate between two setups (presets, or `current` for this channel's own).")
