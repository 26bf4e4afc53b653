"""One answer's presence in a Discord channel: typing, a status message that evolves, the answer."""

from __future__ import annotations

import json
import logging
from typing import Any

import discord

from adapters.discord.views import MESSAGE_LIMIT, answer_view
from bot.surface import FinalAnswer, Progress
from bot.text.chunking import split_text
from bot.text.render import DISCORD, render_progress

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()  # echoed text may contain @everyone or mentions: never notify
WRITING = "\n\n-# ✍️ writing…"


class DiscordSurface:
    """Implements `bot.surface.ReplySurface` for a thread, channel or DM.

    The service already coalesces updates to one per `min_update_interval`; edits that fail (a 429
    beyond discord.py's own retries, a deleted status) are logged by the service and the next update
    tries again, so a slow Discord never stalls the answer.
    """

    min_update_interval = 1.0

    def __init__(self, channel: discord.abc.Messageable,
                 status: discord.Message | discord.PartialMessage | None = None) -> None:
        self.channel = channel
        self.status = status  # the status message; after a restart, the one a dead process left

    def handle(self) -> str | None:
        channel_id = getattr(self.channel, "id", None)
        if self.status is None or channel_id is None:
            return None
        return json.dumps({"channel": str(channel_id), "message": str(self.status.id)})

    async def typing(self) -> None:
        """Show "moa-bot is typing…" at once; it lasts until our first message."""
        try:
            await self.channel.typing()
        except discord.HTTPException:
            log.debug("typing indicator failed", exc_info=True)

    async def show_progress(self, progress: Progress) -> None:
        await self._show(render_progress(progress, DISCORD))

    async def stream_answer(self, partial: str) -> None:
        # While writing, show the opening part that fits; the whole answer arrives with finish().
        parts = split_text(partial, MESSAGE_LIMIT - len(WRITING))
        if parts:
            await self._show(parts[0] + WRITING)

    async def finish(self, answer: FinalAnswer) -> list[str]:
        text = answer.text
        if answer.verdict:
            text += f"\n\n-# {answer.verdict}"
        if answer.warnings:
            text += "\n\n" + "\n".join(f"-# ⚠️ {w}" for w in answer.warnings)
        parts = split_text(text, MESSAGE_LIMIT) or ["(the answer was empty)"]
        ids: list[str] = []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            view = answer_view(answer.run_id, feedback=True) if last and answer.run_id is not None else None
            message = await self._put(part, view, replace_status=i == 0)
            ids.append(str(message.id))
        return ids

    async def fail(self, message: str, run_id: int | None) -> None:
        parts = split_text(message, MESSAGE_LIMIT) or ["Something went wrong."]
        for i, part in enumerate(parts):
            view = answer_view(run_id) if run_id is not None and i == len(parts) - 1 else None
            await self._put(part, view, replace_status=i == 0)

    async def _show(self, content: str) -> None:
        if self.status is None:
            self.status = await self.channel.send(content, allowed_mentions=NO_PINGS)
        else:
            self.status = await self.status.edit(content=content, allowed_mentions=NO_PINGS)

    async def _put(self, content: str, view: discord.ui.View | None, *, replace_status: bool) -> discord.Message:
        """Edit the status into `content` (when asked and it exists), else send a new message."""
        kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
        if view is not None:
            kwargs["view"] = view
        if replace_status and self.status is not None:
            try:
                self.status = await self.status.edit(content=content, **kwargs)
                return self.status
            except discord.NotFound:  # someone deleted the status: post the answer anew
                self.status = None
        return await self.channel.send(content, **kwargs)
