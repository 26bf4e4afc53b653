"""What commands need from the rest of the bot: the config store, the history, the live model list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from moa.config import Limits, MoaConfig, default_config
from moa.pacing import Pacer
from storage.models import ChannelKey, ConfigChange, StoredConfig


class ConfigStore(Protocol):
    """Per-channel configs (storage.configs.ConfigRepository)."""

    async def get(self, channel: ChannelKey) -> StoredConfig | None: ...
    async def effective(self, channel: ChannelKey) -> StoredConfig | None: ...
    async def put(self, channel: ChannelKey, config_json: str, changed_by: str, summary: str) -> None: ...
    async def delete(self, channel: ChannelKey, changed_by: str) -> bool: ...
    async def changes(self, channel: ChannelKey, limit: int = 20) -> list[ConfigChange]: ...


class HistoryStore(Protocol):
    """Stored conversation (storage.db.Database)."""

    async def forget(self, channel: ChannelKey) -> int: ...


class ModelCatalog(Protocol):
    """The live model list (moa.providers.ProviderRegistry); both may raise ProviderError."""

    async def live_models(self) -> list[str]: ...
    async def unknown_models(self, ids: Iterable[str]) -> list[str]: ...


@dataclass(frozen=True)
class CommandDeps:
    """What commands need; cheap to build per command."""

    configs: ConfigStore
    history: HistoryStore
    models: ModelCatalog
    limits: Limits = field(default_factory=Limits)
    default: MoaConfig = field(default_factory=default_config)  # for channels with no stored setup
    default_label: str = "the built-in default"  # how replies name `default`
    pacer: Pacer | None = None  # the models' known rate limits, for what `show` says about pace
