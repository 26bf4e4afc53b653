"""👍/👎 on answers: store the member's vote and say privately what happened."""

from __future__ import annotations

from bot.observe.traces import run_key
from moa import trace
from storage.db import Database
from storage.models import ChannelKey

NOT_FOUND = "I can't find that answer in this channel any more (it may have been forgotten), so the vote isn't kept."
NO_MEMBER = "Sorry — I couldn't tell who pressed that, so the vote wasn't counted."
_MARK = {1: "👍", -1: "👎"}


async def record_vote(db: Database, channel: ChannelKey, run_id: int, member: str, up: bool) -> str:
    """Store the vote; the sentence only the voter sees."""
    if not member:  # a press whose platform named nobody: nothing to count it for
        return NO_MEMBER
    outcome = await db.votes.cast(channel, run_id, member, 1 if up else -1)
    if outcome is None:
        return NOT_FOUND
    mark = _MARK[outcome.vote]
    if outcome.changed:  # a backend scores the answer from its trace
        trace.feedback(run_key(channel, run_id), up=up, changed=outcome.previous is not None, run_id=run_id)
    if outcome.previous is None:
        return f"Thanks — your {mark} is counted. `/moa usage` shows how this channel rates its answers."
    if not outcome.changed:
        return f"You already gave this answer {mark}; it's counted once."
    return f"Changed your vote on this answer from {_MARK[outcome.previous]} to {mark}."
