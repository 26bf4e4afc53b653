"""The setup a channel uses now, and how to say where it comes from."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from bot.commands.deps import CommandDeps
from bot.commands.grammar import CommandError
from moa.config.schema import MoaConfig
from storage.models import ChannelKey, StoredConfig


async def current_config(deps: CommandDeps, channel: ChannelKey) -> tuple[MoaConfig, StoredConfig | None]:
    """The config that applies to `channel` and the stored row it came from (None: the default)."""
    stored = await deps.configs.effective(channel)
    if stored is None:
        return deps.default, None
    try:
        # No limits here: a config stored before the operator tightened them must still load.
        return MoaConfig.model_validate_json(stored.config_json), stored
    except (ValidationError, ValueError):
        raise CommandError("The stored setup for this channel can't be read; `/moa reset` goes back "
                           "to the default.") from None


def describe_source(stored: StoredConfig | None, channel: ChannelKey, deps: CommandDeps) -> str:
    """The deployment's default (`deps.default_label`), 'the workspace default (set by …, when)' or
    "this channel's own setup (…)"."""
    if stored is None:
        return deps.default_label
    if stored.scope == "workspace":
        return f"the workspace default (set by {mention(stored.changed_by, channel)}, {when(stored.changed_at)})"
    return f"this channel's own setup (set by {mention(stored.changed_by, channel)}, {when(stored.changed_at)})"


def mention(user: str, channel: ChannelKey) -> str:
    """A user as the channel's platform links them; the bare id elsewhere (console)."""
    return f"<@{user}>" if channel.platform in ("slack", "discord") else user


def when(ts: float) -> str:
    """A change time as people read it, in UTC: '2026-10-03 14:05 UTC'."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
