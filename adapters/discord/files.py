"""Discord attachments as `Attachment`s: downloaded from their CDN URL, without the bot token."""

from __future__ import annotations

from collections.abc import Iterable

import discord

from bot.conversation.attachments import Attachment, Fetch
from bot.conversation.downloads import download


def discord_attachments(attachments: Iterable[discord.Attachment]) -> tuple[Attachment, ...]:
    return tuple(Attachment(name=a.filename, mimetype=a.content_type or "", size=a.size,
                            fetch=_fetcher(a.url, a.content_type or "")) for a in attachments)


def _fetcher(url: str, mimetype: str) -> Fetch:
    async def fetch(max_bytes: int) -> bytes:
        # The CDN's signed URL is the permission: the bot token never goes with it.
        return await download(url, {}, max_bytes, expect=mimetype,
                              login_page="Discord answered a web page instead of the file (its link may have expired)")
    return fetch
