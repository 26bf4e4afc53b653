"""Persistent buttons: "Show layers" and 👍/👎 on every answer, and page turning in the layer view.

Both are `DynamicItem`s whose custom id carries the state (the run, the page), so they keep working
after a restart without any view being stored: discord.py matches the template and rebuilds the item.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from adapters.discord.places import channel_key, place_of
from bot.text.render import DISCORD, render_layers_pages
from storage.errors import StorageError
from storage.models import ChannelKey, RunRecord

if TYPE_CHECKING:
    from bot.conversation.service import ConversationService

MESSAGE_LIMIT = 2000
PAGE_LIMIT = MESSAGE_LIMIT - 40  # room for the "page i/n" footer
NOT_HERE = "I can't find that answer's layers in this channel."


def _service(interaction: discord.Interaction[Any]) -> ConversationService:
    service: ConversationService = interaction.client.service  # the client is our MoaBot
    return service


async def _run_for(interaction: discord.Interaction[Any], run_id: int) -> RunRecord | None:
    """The run a layers button names, or None after telling the presser why it cannot be shown."""
    try:
        run = await _service(interaction).reveal_layers(interaction_place(interaction), run_id=run_id)
    except StorageError as err:  # storage is down: say so rather than leave "thinking…"
        await interaction.followup.send(str(err), ephemeral=True)
        return None
    if run is None:
        await interaction.followup.send(NOT_HERE, ephemeral=True)
    return run


def interaction_place(interaction: discord.Interaction[Any]) -> ChannelKey:
    if interaction.channel is not None:
        return place_of(interaction.channel, interaction.guild_id)[0]
    return channel_key(interaction.guild_id, interaction.channel_id or 0)


class ShowLayersButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"moa:layers:(?P<run_id>[0-9]+)"):
    """The button under every answer: shows the presser (only them) that run's intermediate answers."""

    def __init__(self, run_id: int) -> None:
        super().__init__(discord.ui.Button(label="Show layers", emoji="🔍", style=discord.ButtonStyle.secondary,
                                           custom_id=f"moa:layers:{run_id}"))
        self.run_id = run_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ShowLayersButton:
        return cls(int(match["run_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # the 3 s deadline, before any I/O
        run = await _run_for(interaction, self.run_id)
        if run is None:
            return
        content, view = layers_page(run, 0)
        await interaction.followup.send(content, view=view, ephemeral=True)


class LayersPageButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                       template=r"moa:page:(?P<run_id>[0-9]+):(?P<page>[0-9]+)"):
    """◀ / ▶ under a long layer view: turns the page by editing that message."""

    def __init__(self, run_id: int, page: int, label: str) -> None:
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary,
                                           custom_id=f"moa:page:{run_id}:{page}"))
        self.run_id = run_id
        self.page = page

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> LayersPageButton:
        return cls(int(match["run_id"]), int(match["page"]), getattr(item, "label", None) or "")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer()  # acknowledges as "update the message this button is on"
        run = await _run_for(interaction, self.run_id)
        if run is None:
            return
        content, view = layers_page(run, self.page)
        await interaction.edit_original_response(content=content, view=view)


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                     template=r"moa:vote:(?P<vote>up|down):(?P<run_id>[0-9]+)"):
    """👍 / 👎 under every answer: stores the presser's vote (a second press replaces it), told privately."""

    def __init__(self, run_id: int, up: bool) -> None:
        super().__init__(discord.ui.Button(emoji="👍" if up else "👎", style=discord.ButtonStyle.secondary,
                                           custom_id=f"moa:vote:{'up' if up else 'down'}:{run_id}"))
        self.run_id = run_id
        self.up = up

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> FeedbackButton:
        return cls(int(match["run_id"]), match["vote"] == "up")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # the 3 s deadline, before any I/O
        text = await _service(interaction).vote(interaction_place(interaction), self.run_id,
                                                str(interaction.user.id), self.up)
        await interaction.followup.send(text, ephemeral=True)


def layers_page(run: RunRecord, page: int) -> tuple[str, discord.ui.View]:
    """One page of a run's layer view (≤ 2,000 chars) and the buttons to reach its neighbours."""
    pages = render_layers_pages(run, PAGE_LIMIT, DISCORD) or ["(no layers recorded)"]
    page = max(0, min(page, len(pages) - 1))
    view = discord.ui.View(timeout=None)
    if len(pages) == 1:
        return pages[0], view
    if page > 0:
        view.add_item(LayersPageButton(run.id, page - 1, "◀ Previous"))
    if page < len(pages) - 1:
        view.add_item(LayersPageButton(run.id, page + 1, "Next ▶"))
    return f"{pages[page]}\n-# page {page + 1} of {len(pages)}", view


def answer_view(run_id: int, *, feedback: bool = False) -> discord.ui.View:
    """Show layers under an answer, and 👍/👎 when it is a final answer (`feedback`)."""
    view = discord.ui.View(timeout=None)
    view.add_item(ShowLayersButton(run_id))
    if feedback:
        view.add_item(FeedbackButton(run_id, up=True))
        view.add_item(FeedbackButton(run_id, up=False))
    return view
