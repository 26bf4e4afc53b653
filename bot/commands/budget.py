"""`/moa budget`: show a channel's daily budgets and what today used; admins set or lift them."""

from __future__ import annotations

import time

from bot.commands.context import CommandContext, CommandReply
from bot.commands.current import mention, when
from bot.commands.deps import BudgetStore, CommandDeps
from bot.commands.grammar import USAGE_BUDGET, CommandError, SetBudget
from bot.commands.values import whole
from bot.conversation.budgets import effective, resets_in
from bot.text.render import Style, plural

MAX_ANSWERS = 10_000
MAX_TOKENS = 1_000_000_000


def _store(deps: CommandDeps) -> BudgetStore:
    if deps.budgets is None:
        raise CommandError("Budgets aren't available here.")
    return deps.budgets


def _line(limit: int, used: str, own: bool, what: str) -> str:
    source = "this channel's" if own else "the bot's default"
    if not limit:
        return f"• {what}: none ({source})"
    return f"• {what}: {limit:,} ({source}) — {used}"


async def budget_text(ctx: CommandContext, deps: CommandDeps, style: Style, now: float | None = None) -> str:
    """The channel's budgets, where they come from, and what today has used of them."""
    store = _store(deps)
    stored = await store.get(ctx.channel)
    budgets = effective(stored, *deps.budget_defaults)
    used = await store.used(ctx.channel, ctx.user, now)
    lines = [f"💰 {style.bold('Daily budgets in this channel')} (days are UTC; they apply to everyone, admins too):",
             _line(budgets.member_answers, f"you've used {used.member_answers} today", budgets.answers_own,
                   "Answers per member"),
             _line(budgets.channel_tokens, f"{used.channel_tokens:,} used today", budgets.tokens_own,
                   "Tokens for the channel")]
    if budgets.any:
        lines.append(f"They reset {resets_in(time.time() if now is None else now)}. A mention over a budget is "
                     "told so and costs no model call.")
    if stored is not None:
        lines.append(f"Last changed by {mention(stored.changed_by, ctx.channel)} ({when(stored.changed_at)}).")
    lines.append(f"Admins change them with {USAGE_BUDGET}.")
    return "\n".join(lines)


def _amount(command: SetBudget) -> int:
    value = whole(command.value)
    top = MAX_ANSWERS if command.kind == "answers" else MAX_TOKENS
    example = "`/moa budget answers 20`" if command.kind == "answers" else "`/moa budget tokens 200000`"
    if value is None or not 0 <= value <= top:
        raise CommandError(f"The {command.kind} budget is a whole number from 0 (none) to {top:,}, e.g. "
                           f"{example} — not `{command.value[:40]}`.")
    return value


async def change_budget(command: SetBudget, ctx: CommandContext, deps: CommandDeps) -> CommandReply:
    """Set one budget (0 = none) or lift both; the other budget stays as it was."""
    store = _store(deps)
    stored = await store.get(ctx.channel)
    current = effective(stored, *deps.budget_defaults)
    answers = stored.member_answers if stored is not None else None
    tokens = stored.channel_tokens if stored is not None else None
    if command.kind == "off":
        if not current.any and answers is not None and tokens is not None:
            return CommandReply("This channel has no budgets; nothing to change.")
        answers = tokens = 0
        note = "Budgets are off in this channel: no daily limit on answers or tokens."
    elif command.kind == "answers":
        answers = _amount(command)
        note = (f"Each member may get {plural(answers, 'answer')} a day in this channel." if answers
                else "No daily limit on answers per member in this channel.")
    else:
        tokens = _amount(command)
        note = (f"This channel may spend {tokens:,} tokens a day." if tokens
                else "No daily token limit in this channel.")
    if stored is not None and (stored.member_answers, stored.channel_tokens) == (answers, tokens):
        return CommandReply(f"{note} (It already was; nothing changed.)")
    await store.put(ctx.channel, member_answers=answers, channel_tokens=tokens, changed_by=ctx.user)
    tail = " Days are UTC; budgets apply to admins too." if answers or tokens else ""
    return CommandReply(f"✅ {note}{tail}", changed=True)
