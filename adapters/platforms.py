"""Every platform adapter's descriptor, in the order `moa-bot run` starts them and doctor lists them."""

from __future__ import annotations

from adapters.discord.platform import DISCORD
from adapters.platform import Platform
from adapters.slack.platform import SLACK

PLATFORMS: tuple[Platform, ...] = (DISCORD, SLACK)
