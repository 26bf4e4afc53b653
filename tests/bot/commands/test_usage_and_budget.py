"""`/moa usage` (anyone) and `/moa budget` (anyone reads, admins change)."""

from __future__ import annotations

import time

import pytest

from bot.commands import ADMIN_REFUSAL, CommandDeps, execute
from bot.commands.grammar import CommandError, SetBudget, ShowBudget, ShowUsage, parse
from storage.db import Database
from storage.models import ProposerRecord
from tests.bot.commands.helpers import CHANNEL, OTHER, Asker, run

CONFIG = '{"main_model": "openai/gpt-oss-120b", "cycles": 1}'


async def _answer(db: Database, *, label: str = "article", author: str = "U1", total_s: float = 3.0,
                  channel: object = CHANNEL) -> int:
    run_id = await db.runs.start(channel, "t", "m", "q?", CONFIG, author=author, config_label=label)  # type: ignore[arg-type]
    proposers = [ProposerRecord(1, "a", "openai/gpt-oss-20b", "hi", 1.0, 100, 10, None)]
    await db.runs.finish(run_id, status="done", answer="a", error=None, proposers=proposers, total_s=total_s,
                         prompt_tokens=250, completion_tokens=50, cost_usd=0.002)
    return run_id


@pytest.mark.parametrize(("text", "command"), [
    ("usage", ShowUsage()), ("stats", ShowUsage()), ("budget", ShowBudget()), ("budget off", SetBudget("off")),
    ("budget answers 20", SetBudget("answers", "20")), ("budget tokens 200,000", SetBudget("tokens", "200,000")),
])
def test_usage_and_budget_parse(text: str, command: object) -> None:
    assert parse(text) == command


def test_a_budget_without_a_number_says_what_works() -> None:
    with pytest.raises(CommandError, match="budget answers N"):
        parse("budget answers")


async def test_usage_shows_three_periods_configs_models_and_votes_to_anyone(db: Database, deps: CommandDeps) -> None:
    first = await _answer(db, total_s=2.0)
    await _answer(db, label="custom 2×4 #a1b2c3", total_s=8.0)
    await _answer(db, channel=OTHER)  # not this channel's
    await db.votes.cast(CHANNEL, first, "U7", 1)
    await db.votes.cast(CHANNEL, first, "U8", -1)
    asker = Asker(admin=False)

    reply = await execute(asker.ctx, "usage", deps)

    text = reply.text
    assert asker.admin_checks == 0 and not reply.changed
    assert "days are UTC" in text
    lines = text.splitlines()
    assert [line.split() for line in lines if line.startswith(("answers", "model calls", "failures"))] == [
        ["answers", "2", "2", "2"], ["model", "calls", "4", "4", "4"], ["failures", "0", "0", "0"]]
    assert any(line.startswith("article") and "1/1" in line for line in lines)
    assert any(line.startswith("custom 2×4 #a1b2c3") for line in lines)
    assert any(line.startswith("openai/gpt-oss-120b") for line in lines)  # the aggregator counts as a model
    assert len(text) < 2000


async def test_usage_of_a_quiet_channel_says_so(deps: CommandDeps) -> None:
    reply = await run(deps, "usage", admin=False)
    assert reply.text.startswith("📊 No answers in this channel in the last 30 days yet")


async def test_usage_stays_one_discord_message_with_many_configs_and_models(db: Database, deps: CommandDeps) -> None:
    for i in range(20):
        run_id = await db.runs.start(CHANNEL, "t", "m", "q?", CONFIG, config_label=f"custom 3×6 #{i:06x}")
        proposers = [ProposerRecord(1, "a", f"provider-{i}:some-rather-long-model-name-{i}", "x", 1.0, 1, 1, None)]
        await db.runs.finish(run_id, status="done", answer="a", error=None, proposers=proposers, total_s=150.0,
                             prompt_tokens=12_345_678, completion_tokens=1_234_567, cost_usd=123.45)
    text = (await run(deps, "usage")).text
    assert len(text) <= 2000
    assert "… and 14 more configs" in text


async def test_budget_shows_none_by_default_and_admins_set_it(db: Database, deps: CommandDeps) -> None:
    shown = await run(deps, "budget", admin=False)
    assert "• Answers per member: none (the bot's default)" in shown.text
    assert "admins too" in shown.text

    refused = await run(deps, "budget answers 5", admin=False)
    assert refused.text == ADMIN_REFUSAL and await db.budgets.get(CHANNEL) is None

    done = await run(deps, "budget answers 5")
    assert done.changed and "5 answers a day" in done.text and "UTC" in done.text
    await run(deps, "budget tokens 100000")
    await _answer(db, author="U1")
    shown = await run(deps, "budget", admin=False)
    assert "• Answers per member: 5 (this channel's) — you've used 1 today" in shown.text
    assert "• Tokens for the channel: 100,000 (this channel's) — 300 used today" in shown.text
    assert "reset at 00:00 UTC" in shown.text


async def test_budget_off_lifts_the_deployment_default(db: Database, deps: CommandDeps) -> None:
    with_defaults = CommandDeps(configs=deps.configs, history=deps.history, models=deps.models,
                                usage=db.usage, budgets=db.budgets, budget_defaults=(3, 0))
    assert "• Answers per member: 3 (the bot's default)" in (await run(with_defaults, "budget")).text
    reply = await run(with_defaults, "budget off")
    assert reply.changed and "Budgets are off" in reply.text
    stored = await db.budgets.get(CHANNEL)
    assert stored is not None and (stored.member_answers, stored.channel_tokens) == (0, 0)


@pytest.mark.parametrize("text", ["budget answers -1", "budget answers lots", "budget tokens 1.5"])
async def test_a_bad_budget_changes_nothing(db: Database, deps: CommandDeps, text: str) -> None:
    reply = await run(deps, text)
    assert "whole number from 0 (none)" in reply.text and "Nothing changed." in reply.text
    assert await db.budgets.get(CHANNEL) is None


async def test_resets_in_counts_to_utc_midnight() -> None:
    from bot.conversation.budgets import resets_in

    midnight = (int(time.time()) // 86400 + 1) * 86400
    assert resets_in(midnight - 3 * 3600 - 12 * 60) == "at 00:00 UTC (in 3 h 12 min)"


async def test_show_names_the_label_usage_counts_the_setup_under(deps: CommandDeps) -> None:
    assert "`/moa usage` counts its answers as `article`." in (await run(deps, "show", admin=False)).text
    await run(deps, "layers 2")
    shown = (await run(deps, "show", admin=False)).text
    assert "`/moa usage` counts its answers as `custom 2×3 #" in shown
