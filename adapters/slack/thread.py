"""A Slack thread's earlier messages (`conversations.replies`), for a mention in a thread the bot has not
answered in. Only the mention's own channel and thread are read; authors are named by `users.info`.

Slack returns a thread oldest first, at most `limit` a page, with `has_more` and a `next_cursor`: the
messages just before the mention — the ones a question is usually about — are on the *last* page, so every
page is read (up to `MAX_PAGES`), and `read_thread` then keeps the newest that fit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.authors import AuthorNames
from adapters.slack.files import slack_attachments
from bot.conversation.thread_context import EarlierMessage, EarlierReader

log = logging.getLogger(__name__)

PAGE = 200  # what Slack recommends (and returns at most by default) per conversations.replies page
MAX_PAGES = 25  # threads of up to 5,000 messages are read to the mention
_PEOPLE_SUBTYPES = (None, "file_share", "thread_broadcast", "bot_message")


def earlier_reader(client: AsyncWebClient, channel: str, thread: str, before: str, bot_user: str | None,
                   strip: Callable[[str], str], names: AuthorNames) -> EarlierReader:
    """Reads the messages of `thread` in `channel` said before the message `before`, oldest first."""
    async def read() -> list[EarlierMessage]:
        said = [m for m in await _all_pages(client, channel, thread, before) if _before(m, before)]
        people = {str(m.get("user") or "") for m in said} - {bot_user or "", ""}
        named = await names.names(client, people)
        out = []
        for message in said:
            user = str(message.get("user") or "")
            from_bot = bool(bot_user) and user == bot_user
            author = "moa" if from_bot else named.get(user, user) if user else "a bot"
            out.append(EarlierMessage(author=author, text=strip(str(message.get("text") or "")),
                                      attachments=slack_attachments(message.get("files"), client.token or "",
                                                                    client.base_url),
                                      from_bot=from_bot))
        return out
    return read


async def _all_pages(client: AsyncWebClient, channel: str, thread: str, before: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        reply = await client.conversations_replies(channel=channel, ts=thread, limit=PAGE, latest=before,
                                                   cursor=cursor)
        messages += [m for m in reply.get("messages") or [] if isinstance(m, dict)]
        cursor = (reply.get("response_metadata") or {}).get("next_cursor") or None
        if not reply.get("has_more") or not cursor:
            return messages
    log.warning("thread %s in %s has more than %d messages; only the first %d were read", thread, channel,
                PAGE * MAX_PAGES, len(messages))
    return messages


def _before(message: dict[str, Any], before: str) -> bool:
    ts = str(message.get("ts", ""))
    try:
        return bool(ts) and float(ts) < float(before) and message.get("subtype") in _PEOPLE_SUBTYPES
    except ValueError:
        return False
