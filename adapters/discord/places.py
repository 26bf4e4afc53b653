"""Where a Discord message lives, in the service's terms: the channel whose config applies, and the thread."""

from __future__ import annotations

import discord

from storage.models import ChannelKey

PLATFORM = "discord"


def channel_key(guild_id: int | None, channel_id: int) -> ChannelKey:
    return ChannelKey(PLATFORM, str(guild_id) if guild_id else "dm", str(channel_id))


def place_of(channel: object, guild_id: int | None = None) -> tuple[ChannelKey, str]:
    """(config channel, thread) for a channel: a thread answers to its parent's config; a DM or plain
    channel is its own thread."""
    if isinstance(channel, discord.Thread):
        return channel_key(channel.guild.id, channel.parent_id), str(channel.id)
    if isinstance(channel, discord.DMChannel | discord.GroupChannel):
        return channel_key(None, channel.id), str(channel.id)
    guild = getattr(channel, "guild", None)
    gid = guild.id if guild is not None else guild_id
    cid = getattr(channel, "id", 0)
    return channel_key(gid, cid), str(cid)
