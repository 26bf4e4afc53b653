"""What the `/moa` command tests share: a fake live model list, an asker with or without admin rights,
and ways to run a command and look at what it stored."""

from __future__ import annotations

from collections.abc import Iterable

from bot.commands import CommandDeps, execute
from bot.conversation.service import CommandContext, CommandReply
from moa.config.schema import MoaConfig
from moa.errors import ProviderError
from storage.db import Database
from storage.models import ChannelKey

CHANNEL = ChannelKey("slack", "T1", "C1")
OTHER = ChannelKey("slack", "T1", "C2")
LIVE = ["openai/gpt-oss-120b", "openai/gpt-oss-20b", "qwen/qwen3.8-27b", "groq/compound"]
LIVE_LIST = "Live models: groq/compound, openai/gpt-oss-120b, openai/gpt-oss-20b, qwen/qwen3.8-27b."
DEFAULT_CALLS = "10 model calls per answer (3 layers × 3 agents + the aggregator)."


class Catalog:
    """The live model list as the provider registry reports it."""

    def __init__(self, live: list[str]) -> None:
        self.live = live
        self.down = False
        self.asked: list[list[str]] = []

    async def live_models(self) -> list[str]:
        if self.down:
            raise ProviderError("Groq is unreachable")
        return list(self.live)

    async def unknown_models(self, ids: Iterable[str]) -> list[str]:
        ids = list(ids)
        self.asked.append(ids)
        if self.down:
            raise ProviderError("Groq is unreachable")
        return [m for m in ids if m not in self.live]


class Asker:
    """Who runs the command; counts how often the adapter had to check admin rights."""

    def __init__(self, admin: bool, user: str = "U1", channel: ChannelKey = CHANNEL) -> None:
        self.admin_checks = 0
        self.ctx = CommandContext(channel=channel, user=user, is_admin=self._is_admin)
        self._admin = admin

    async def _is_admin(self) -> bool:
        self.admin_checks += 1
        return self._admin


async def run(deps: CommandDeps, text: str, *, admin: bool = True, channel: ChannelKey = CHANNEL) -> CommandReply:
    return await execute(Asker(admin, channel=channel).ctx, text, deps)


async def stored(db: Database, channel: ChannelKey = CHANNEL) -> MoaConfig | None:
    row = await db.configs.get(channel)
    return MoaConfig.model_validate_json(row.config_json) if row else None


async def state(db: Database) -> tuple[object, ...]:
    """Everything a command could change: the stored config, its change log, the history."""
    config = await db.configs.get(CHANNEL)
    return (config, await db.configs.changes(CHANNEL), await db.turns.history(CHANNEL, "t1", 10_000))
