"""Daily budgets: which apply to a channel, and the one sentence a mention over budget gets.

A channel's own budgets (set with `/moa budget`) win over the deployment's defaults
(`MOA_BUDGET_MEMBER_ANSWERS`, `MOA_BUDGET_CHANNEL_TOKENS`); 0 means none. Days are UTC. Budgets bind
everyone, admins too. An answer that started within budget is finished even if it crosses the token
budget: the check is made before a run starts, never during it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.text.render import plural
from storage.budgets import StoredBudget, day_start
from storage.db import Database
from storage.models import ChannelKey
from storage.usage import DAY_S


@dataclass(frozen=True)
class Budgets:
    member_answers: int  # per member per UTC day in the channel; 0 = none
    channel_tokens: int  # per channel per UTC day; 0 = none
    answers_own: bool  # set by the channel (else the deployment's default)
    tokens_own: bool

    @property
    def any(self) -> bool:
        return bool(self.member_answers or self.channel_tokens)


def effective(stored: StoredBudget | None, default_answers: int, default_tokens: int) -> Budgets:
    """The budgets that apply: the channel's own where set, the deployment's defaults otherwise."""
    answers = stored.member_answers if stored is not None else None
    tokens = stored.channel_tokens if stored is not None else None
    return Budgets(default_answers if answers is None else answers, default_tokens if tokens is None else tokens,
                   answers is not None, tokens is not None)


def resets_in(now: float) -> str:
    """'at 00:00 UTC (in 3 h 12 min)'."""
    left = int(day_start(now) + DAY_S - now)
    hours, minutes = divmod(max(left, 60) // 60, 60)
    return f"at 00:00 UTC (in {hours} h {minutes} min)" if hours else f"at 00:00 UTC (in {minutes} min)"


async def over_budget(db: Database, channel: ChannelKey, member: str, default_answers: int,
                      default_tokens: int, now: float | None = None, exclude_run: int | None = None) -> str | None:
    """The sentence for a mention over a budget, or None when it may be answered (`exclude_run`: the
    mention's own run, already recorded while it waited)."""
    budgets = effective(await db.budgets.get(channel), default_answers, default_tokens)
    if not budgets.any:
        return None
    now = time.time() if now is None else now
    used = await db.budgets.used(channel, member, now, exclude_run=exclude_run)
    if budgets.member_answers and used.member_answers >= budgets.member_answers:
        return (f"You've used {used.member_answers} of your {plural(budgets.member_answers, 'answer')} for today "
                f"in this channel (the daily budget per member); it resets {resets_in(now)}.")
    if budgets.channel_tokens and used.channel_tokens >= budgets.channel_tokens:
        return (f"This channel has used {used.channel_tokens:,} of its {budgets.channel_tokens:,} tokens for "
                f"today (its daily token budget); it resets {resets_in(now)}.")
    return None
