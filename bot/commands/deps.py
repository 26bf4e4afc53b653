"""What commands need from the rest of the bot: the config store, the history, the live model list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from moa.config.schema import Limits, MoaConfig, default_config
from moa.pace.pacer import Pacer
from storage.budgets import StoredBudget, Used
from storage.experiments import Arm, ArmRun, Experiment
from storage.models import ChannelKey, ConfigChange, StoredConfig
from storage.usage import Period


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
    """The live model list (moa.calls.providers.ProviderRegistry); both may raise ProviderError."""

    async def live_models(self) -> list[str]: ...
    async def unknown_models(self, ids: Iterable[str]) -> list[str]: ...


class UsageStore(Protocol):
    """Usage rollups (storage.usage.UsageRepository)."""

    async def fold(self) -> int: ...
    async def report(self, starts: Sequence[int], channel: ChannelKey | None = None, *,
                     channel_id: str | None = None, pending: bool = False) -> list[Period]: ...


class BudgetStore(Protocol):
    """Per-channel budgets and today's use (storage.budgets.BudgetRepository)."""

    async def get(self, channel: ChannelKey) -> StoredBudget | None: ...
    async def put(self, channel: ChannelKey, *, member_answers: int | None, channel_tokens: int | None,
                  changed_by: str) -> None: ...
    async def used(self, channel: ChannelKey, member: str, now: float | None = None) -> Used: ...


class ExperimentStore(Protocol):
    """Experiments in a channel (storage.experiments.ExperimentRepository)."""

    async def running(self, channel: ChannelKey) -> Experiment | None: ...
    async def start(self, channel: ChannelKey, arm_a: tuple[str, str], arm_b: tuple[str, str], started_by: str,
                    now: float | None = None) -> Experiment | None: ...
    async def stop(self, channel: ChannelKey, adopted: str | None = None,
                   now: float | None = None) -> Experiment | None: ...
    async def runs(self, experiment_id: int) -> list[ArmRun]: ...
    async def member_votes(self, experiment_id: int) -> list[tuple[Arm, str, int]]: ...


@dataclass(frozen=True)
class CommandDeps:
    """What commands need; cheap to build per command."""

    configs: ConfigStore
    history: HistoryStore
    models: ModelCatalog
    limits: Limits = field(default_factory=Limits)
    default: MoaConfig = field(default_factory=default_config)  # for channels with no stored setup
    default_label: str = "the built-in default"  # how replies name `default`
    usage: UsageStore | None = None  # `/moa usage`; None where the caller keeps no usage
    budgets: BudgetStore | None = None  # `/moa budget`
    budget_defaults: tuple[int, int] = (0, 0)  # MOA_BUDGET_MEMBER_ANSWERS, MOA_BUDGET_CHANNEL_TOKENS
    pacer: Pacer | None = None  # the models' known rate limits, for what `show` says about pace
    experiments: ExperimentStore | None = None  # `/moa experiment`; None where the caller keeps none
