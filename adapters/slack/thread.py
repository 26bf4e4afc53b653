"""A Slack thread's earlier messages (`conversations.replies`), for a mention in a thread the bot has not
answered in. Only the mention's own channel and thread are read; authors are named by `users.info`."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.files import slack_attachments
from bot.conversation.thread_context import EarlierMessage, EarlierReader

log = logging.getLogger(__name__)

MAX_MESSAGES = 200  # one page of conversations.replies is enough context for any budget we allow


def earlier_reader(client: AsyncWebClient, channel: str, thread: str, before: str, bot_user: str | None,
                   strip: Any) -> EarlierReader:
    """Reads the messages of `thread` in `channel` said before the message `before`, oldest first."""
    async def read() -> list[EarlierMessage]:
        reply = await client.conversations_replies(channel=channel, ts=thread, limit=MAX_MESSAGES)
        names: dict[str, str] = {}
        out = []
        for message in reply.get("messages") or []:
            ts = str(message.get("ts", ""))
            if not ts or float(ts) >= float(before) or message.get("subtype") not in (None, "file_share",
                                                                                       "thread_broadcast",
                                                                                       "bot_message"):
                continue
            user = str(message.get("user") or "")
            from_bot = bool(bot_user) and user == bot_user
            author = "moa" if from_bot else await _name(client, user, names) if user else "a bot"
            out.append(EarlierMessage(author=author, text=strip(str(message.get("text") or "")),
                                      attachments=slack_attachments(message.get("files") or [],
                                                                    client.token or "", client.base_url),
                                      from_bot=from_bot))
        return out
    return read


async def _name(client: AsyncWebClient, user: str, names: dict[str, str]) -> str:
    if user not in names:
        try:
            info = (await client.users_info(user=user)).get("user") or {}
            profile = info.get("profile") or {}
            names[user] = str(profile.get("display_name") or info.get("real_name") or info.get("name") or user)
        except SlackApiError:  # a name is a nicety: the id still says who
            log.debug("users.info %s failed", user, exc_info=True)
            names[user] = user
    return names[user]
