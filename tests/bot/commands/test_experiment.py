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
    assert "A `lite`*: 2 answers · 👍 14 / 👎 0 — 100% liked" in standing and "median 2.0 s" in standing
