"""Who said what in a Slack thread: `users.info` names, looked up side by side, cached, rate limits obeyed.

A thread of 150 authors looked up one by one at Slack's ~0.3 s each held an answer 49 s. Here the
missing names are looked up `CONCURRENCY` at a time; a 429 pauses every lookup for its `Retry-After`
(Slack limits the method per workspace, not per call); names are kept `KEEP_S` (people rarely rename
themselves mid-conversation) for the next thread. A name is a nicety: past `PATIENCE_S`, or on any other
error, the member id stands in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

CONCURRENCY = 10  # users.info is Tier 4 (100+ a minute): ten at once stays polite
KEEP_S = 3600.0
MOST_KEPT = 10_000
PATIENCE_S = 10.0  # names are given up on (ids stand in) after this long
LONGEST_PAUSE_S = 30.0  # a Retry-After beyond this is not waited for


class AuthorNames:
    """Display names of Slack members, shared by every thread this app reads."""

    def __init__(self, concurrency: int = CONCURRENCY, patience_s: float = PATIENCE_S) -> None:
        self._concurrency = concurrency
        self._patience_s = patience_s
        self._kept: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._paused_until = 0.0  # time.monotonic() before which no lookup is sent (a 429's Retry-After)

    async def names(self, client: AsyncWebClient, users: Iterable[str]) -> dict[str, str]:
        """Each member's name (its id when it could not be had in time)."""
        wanted = list(dict.fromkeys(u for u in users if u))
        found = {u: name for u in wanted if (name := self._kept_name(u)) is not None}
        missing = [u for u in wanted if u not in found]
        if missing:
            gate = asyncio.Semaphore(self._concurrency)
            deadline = time.monotonic() + self._patience_s
            looked = await asyncio.gather(*(self._look_up(client, u, gate, deadline) for u in missing))
            found.update(zip(missing, looked, strict=True))
        return {u: found[u] for u in wanted}

    def _kept_name(self, user: str) -> str | None:
        kept = self._kept.get(user)
        if kept is None or time.monotonic() - kept[0] > KEEP_S:
            return None
        return kept[1]

    def _keep(self, user: str, name: str) -> None:
        self._kept[user] = (time.monotonic(), name)
        self._kept.move_to_end(user)
        while len(self._kept) > MOST_KEPT:
            self._kept.popitem(last=False)

    async def _look_up(self, client: AsyncWebClient, user: str, gate: asyncio.Semaphore, deadline: float) -> str:
        async with gate:
            while True:
                pause = self._paused_until - time.monotonic()
                if pause > 0:
                    if time.monotonic() + pause > deadline:
                        return user
                    await asyncio.sleep(pause)  # Slack asked every caller to wait this long
                    continue
                try:
                    async with asyncio.timeout(max(deadline - time.monotonic(), 0.01)):
                        info = (await client.users_info(user=user)).get("user") or {}
                except SlackApiError as err:
                    retry = _retry_after(err)
                    if retry is not None:
                        self._paused_until = max(self._paused_until, time.monotonic() + retry)
                        continue
                    log.debug("users.info %s failed", user, exc_info=True)
                    return user  # not kept: the next thread tries again
                except TimeoutError:
                    return user
                profile = info.get("profile") or {}
                name = str(profile.get("display_name") or info.get("real_name") or info.get("name") or user)
                self._keep(user, name)
                return name


def _retry_after(err: SlackApiError) -> float | None:
    """Seconds Slack asked to wait (a 429), within reason; None for any other error."""
    response = err.response
    if getattr(response, "status_code", None) != 429:
        return None
    headers = getattr(response, "headers", {}) or {}
    raw = headers.get("Retry-After") or headers.get("retry-after") or "1"
    try:
        return min(max(float(raw), 0.0), LONGEST_PAUSE_S)
    except ValueError:
        return 1.0
