"""`/moa experiment`: two setups answer the channel's questions in turn; the standing says how each did.

`experiment A B` (admins) starts one — A and B are presets or `current` (the channel's setup now), fixed
when it starts; `experiment` (anyone) shows each arm's answers, 👍/👎 with 95% intervals, median time and
cost, and whether the difference is clear yet; `experiment stop [A|B]` (admins) ends it, adopting A or B
(by letter or name) as the channel's setup if named.
"""

from __future__ import annotations

import statistics

from bot.commands.context import CommandContext, CommandReply
from bot.commands.current import current_config, mention, when
from bot.commands.deps import CommandDeps, ExperimentStore
from bot.commands.experiment_votes import ArmVotes, members_phrase, tally, verdict
from bot.commands.grammar import (
    CommandError,
    ShowExperiment,
    StartExperiment,
    StopExperiment,
)
from bot.commands.live import require_live
from bot.text.render import Style, describe_calls, plural, style_for
from moa.config.schema import PRESET_DESCRIPTIONS, MoaConfig, check_limits, parse_config, preset
from moa.errors import ConfigError
from storage.experiments import Arm, ArmRun, Experiment

CURRENT = "current"
START_EXAMPLE = "`/moa experiment A B`"
NOT_AVAILABLE = "Experiments need the bot's storage, which this place does not have."


def _store(deps: CommandDeps) -> ExperimentStore:
    if deps.experiments is None:
        raise CommandError(NOT_AVAILABLE)
    return deps.experiments


async def experiment(command: StartExperiment | ShowExperiment | StopExperiment, ctx: CommandContext,
                     deps: CommandDeps) -> CommandReply:
    match command:
        case StartExperiment(a, b):
            return await _start(a, b, ctx, deps)
        case StopExperiment(adopt):
            return await _stop(adopt, ctx, deps)
        case ShowExperiment():
            return CommandReply(await standing_text(ctx, deps))


async def _arm(name: str, ctx: CommandContext, deps: CommandDeps) -> tuple[str, MoaConfig]:
    """An arm by name: a preset or `current`; CommandError names what exists."""
    key = name.strip().lower()
    if key == CURRENT:
        config, _ = await current_config(deps, ctx.channel)
    elif key in PRESET_DESCRIPTIONS:
        config = preset(key)
    else:
        raise CommandError(f"There is no setup called `{name[:40]}` to experiment with. Arms are presets "
                           f"({', '.join(PRESET_DESCRIPTIONS)}) or `current` (this channel's setup now).")
    try:
        config = check_limits(config, deps.limits)
    except ConfigError as err:
        raise CommandError(f"`{key}` does not fit this bot's limits: {err}") from None
    await require_live(deps.models, config)
    return key, config


async def _start(a: str, b: str, ctx: CommandContext, deps: CommandDeps) -> CommandReply:
    store = _store(deps)
    (name_a, config_a), (name_b, config_b) = await _arm(a, ctx, deps), await _arm(b, ctx, deps)
    if config_a.export() == config_b.export():
        raise CommandError(f"`{name_a}` and `{name_b}` are the same setup; compare two different ones.")
    started = await store.start(ctx.channel, (name_a, config_a.export_json()), (name_b, config_b.export_json()),
                                ctx.user)
    if started is None:
        running = await store.running(ctx.channel)
        what = f" (`{running.arm_a}` vs `{running.arm_b}`)" if running else ""
        raise CommandError(f"An experiment is already running here{what}; `/moa experiment stop` ends it first.")
    return CommandReply(
        f"🧪 Experiment started: the next answers here alternate between A `{name_a}` ({describe_calls(config_a)}) "
        f"and B `{name_b}` ({describe_calls(config_b)}). React 👍/👎 on answers; `/moa experiment` shows the "
        "standing, `/moa experiment stop [A|B]` ends it.", changed=True)


def _adopted_arm(adopt: str, running: Experiment) -> Arm:
    key = adopt.strip().lower()
    if key == "a" or (key == running.arm_a and key != running.arm_b):
        return "A"
    if key == "b" or key == running.arm_b:
        return "B"
    raise CommandError(f"`{adopt[:40]}` is not an arm of this experiment: say A (`{running.arm_a}`) or B "
                       f"(`{running.arm_b}`), or nothing to keep the setup as it is.")


async def _stop(adopt: str | None, ctx: CommandContext, deps: CommandDeps) -> CommandReply:
    store = _store(deps)
    running = await store.running(ctx.channel)
    if running is None:
        raise CommandError("No experiment is running here.")
    arm = _adopted_arm(adopt, running) if adopt is not None else None
    standing = await standing_text(ctx, deps)
    if await store.stop(ctx.channel, adopted=arm) is None:  # stopped by someone else meanwhile
        raise CommandError("No experiment is running here.")
    if arm is None:
        return CommandReply(f"🧪 Experiment stopped; this channel's setup is unchanged.\n{standing}", changed=True)
    config = parse_config(running.config(arm), limits=deps.limits)
    now, _ = await current_config(deps, ctx.channel)
    await deps.configs.put(ctx.channel, config.export_json(), ctx.user, f"experiment: adopted {running.name(arm)}")
    what = f"{arm} `{running.name(arm)}`"
    if running.name(arm) == CURRENT:
        what += " — this channel's setup as it was when the experiment started"
    if now.export() == config.export():
        return CommandReply(f"🧪 Experiment stopped; this channel keeps {what}: {describe_calls(config)}.\n{standing}",
                            changed=True)
    undone = " (the setup changes made here since then are undone)" if running.name(arm) == CURRENT else ""
    return CommandReply(f"🧪 Experiment stopped; this channel now uses {what}{undone}: {describe_calls(config)}."
                        f"\n{standing}", changed=True)


async def during_experiment(reply: CommandReply, ctx: CommandContext, deps: CommandDeps) -> CommandReply:
    """A change to the channel's setup while an experiment runs says what it changes: not the answers'
    setups (the arms were fixed at the start), only what answers after the experiment is stopped."""
    if not reply.changed or deps.experiments is None:
        return reply
    running = await deps.experiments.running(ctx.channel)
    if running is None:
        return reply
    return CommandReply(
        f"{reply.text}\n🧪 An experiment is running here: answers keep alternating between A `{running.arm_a}` "
        f"and B `{running.arm_b}` as they were set when it started, so this change takes effect only after "
        "`/moa experiment stop` (stopping with A or B adopts that arm instead).", changed=True)


def _arm_line(style: Style, arm: Arm, name: str, runs: list[ArmRun], votes: ArmVotes) -> str:
    answered = [r for r in runs if r.status == "done"]
    up, down = votes.up, votes.down
    liked = ""
    if votes.members:
        low, high = votes.interval()
        liked = f" {members_phrase(votes.members)} — {votes.share:.0%} liked ({low:.0%}–{high:.0%})"
    times = [r.total_s for r in answered if r.total_s is not None]
    costs = [r.cost_usd for r in answered]
    median = f" · median {statistics.median(times):.1f} s" if times else ""
    cost = "" if not answered else (" · cost unknown" if any(c is None for c in costs)
                                    else f" · cost ${sum(c or 0.0 for c in costs):.4f}")
    failed = len(runs) - len(answered)
    failures = f" ({failed} not answered)" if failed else ""
    return (f"{style.bold(f'{arm} `{name}`')}: {plural(len(answered), 'answer')}{failures} · 👍 {up} / 👎 {down}"
            f"{liked}{median}{cost}")


async def standing_text(ctx: CommandContext, deps: CommandDeps) -> str:
    store = _store(deps)
    running = await store.running(ctx.channel)
    if running is None:
        return (f"No experiment is running here. Admins start one with {START_EXAMPLE}: answers then alternate "
                "between two setups (presets, or `current` for this channel's own).")
    style = style_for(ctx.channel.platform)
    runs = await store.runs(running.id)
    votes = tally(await store.member_votes(running.id))
    by_arm: dict[Arm, list[ArmRun]] = {"A": [r for r in runs if r.arm == "A"], "B": [r for r in runs if r.arm == "B"]}
    lines = [f"🧪 {style.bold('Experiment')}: A `{running.arm_a}` vs B `{running.arm_b}`, answers alternating "
             f"(started by {mention(running.started_by, ctx.channel)}, {when(running.started_at)})"]
    lines += [_arm_line(style, arm, running.name(arm), by_arm[arm], votes[arm]) for arm in ("A", "B")]
    lines.append(verdict(votes["A"], votes["B"], running.arm_a, running.arm_b))
    return "\n".join(lines)
