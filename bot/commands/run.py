"""Running one `/moa` command: parse, ask for admin rights only when it changes something, apply, reply."""

from __future__ import annotations

import asyncio
import weakref

from bot.commands import edits, replies
from bot.commands.budget import budget_text, change_budget
from bot.commands.context import CommandContext, CommandReply
from bot.commands.deps import CommandDeps
from bot.commands.experiment import during_experiment, experiment
from bot.commands.grammar import (
    CHANGING,
    Command,
    CommandError,
    Forget,
    SetBudget,
    ShowBudget,
    ShowExperiment,
    ShowUsage,
    StartExperiment,
    StopExperiment,
    parse,
)
from bot.commands.usage import usage_text
from bot.text.render import style_for
from moa.errors import ConfigError
from storage.models import ChannelKey

MAX_COMMAND_CHARS = 20_000

ADMIN_REFUSAL = (
    "Only channel admins can change the MoA setup here (Discord: Manage Channels; Slack: workspace "
    "admins or SLACK_ADMIN_USERS). `/moa show` works for everyone."
)
NOTHING_CHANGED = "Nothing changed."

# Config edits are read-modify-write: two admins editing one channel at once must not lose an edit.
# Weak values: a lock lives only while someone holds or awaits it, so none outlives its event loop.
_EDIT_LOCKS: weakref.WeakValueDictionary[ChannelKey, asyncio.Lock] = weakref.WeakValueDictionary()


def _edit_lock(channel: ChannelKey) -> asyncio.Lock:
    lock = _EDIT_LOCKS.get(channel)
    if lock is None:
        lock = _EDIT_LOCKS[channel] = asyncio.Lock()
    return lock


async def execute(ctx: CommandContext, typed: str | Command, deps: CommandDeps) -> CommandReply:
    """Run one `/moa` command for `ctx` and say what happened; bad input changes nothing. `typed` is the
    text after `/moa` (Slack, the console), or a command already built from typed options (Discord)."""
    if isinstance(typed, str):
        if len(typed) > MAX_COMMAND_CHARS:
            return CommandReply(f"That command is {len(typed):,} characters; the limit is {MAX_COMMAND_CHARS:,}. "
                                "Shorten the prompts or import fewer agents. " + NOTHING_CHANGED)
        try:
            command = parse(typed)
        except CommandError as err:
            return CommandReply(str(err))
    else:
        command = typed
    changing = isinstance(command, CHANGING)
    # Asked only now: the admin check may cost a platform API call, and reading needs no rights.
    if changing and not await ctx.is_admin():
        return CommandReply(ADMIN_REFUSAL)
    try:
        if changing:
            async with _edit_lock(ctx.channel):
                if isinstance(command, SetBudget):
                    return await change_budget(command, ctx, deps)
                if isinstance(command, StartExperiment | StopExperiment):
                    return await experiment(command, ctx, deps)
                changed = await edits.change(command, ctx, deps)
                return changed if isinstance(command, Forget) else await during_experiment(changed, ctx, deps)
        if isinstance(command, ShowUsage):
            return CommandReply(await usage_text(ctx.channel, deps, style_for(ctx.channel.platform)))
        if isinstance(command, ShowExperiment):
            return await experiment(command, ctx, deps)
        if isinstance(command, ShowBudget):
            return CommandReply(await budget_text(ctx, deps, style_for(ctx.channel.platform)))
        return await replies.reply(command, ctx.channel, deps)
    except (CommandError, ConfigError) as err:
        text = str(err) if str(err).endswith((".", "?", "!")) else f"{err}."
        return CommandReply(f"{text} {NOTHING_CHANGED}" if changing else text)
