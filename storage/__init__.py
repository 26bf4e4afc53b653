"""Storage: channel configs, turns, runs and event keys in one SQLite file (aiosqlite, WAL) or PostgreSQL."""

from storage.configs import ConfigRepository
from storage.db import Database
from storage.errors import DatabaseInUse, StorageError
from storage.event_keys import EventKeyRepository
from storage.models import (
    WORKSPACE_DEFAULT,
    ChannelKey,
    ConfigChange,
    ProposerRecord,
    RunRecord,
    RunStatus,
    StoredConfig,
    StoredTurn,
    UnfinishedRun,
)
from storage.runs import RunRepository, UnknownRun
from storage.schema import SCHEMA_VERSION, SchemaTooNew
from storage.turns import TurnRepository

__all__ = [
    "SCHEMA_VERSION",
    "WORKSPACE_DEFAULT",
    "ChannelKey",
    "ConfigChange",
    "ConfigRepository",
    "Database",
    "DatabaseInUse",
    "EventKeyRepository",
    "ProposerRecord",
    "RunRecord",
    "RunRepository",
    "RunStatus",
    "SchemaTooNew",
    "StorageError",
    "StoredConfig",
    "StoredTurn",
    "TurnRepository",
    "UnfinishedRun",
    "UnknownRun",
]
