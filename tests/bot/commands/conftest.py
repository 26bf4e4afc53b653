"""Fixtures for the `/moa` command tests: a real SQLite file per test, the fake model list, the deps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.commands import CommandDeps
from moa.config.schema import Limits
from storage.db import Database
from tests.bot.commands.helpers import LIVE, Catalog


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "moa.db")
    yield database
    await database.close()


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(LIVE)


@pytest.fixture
def deps(db: Database, catalog: Catalog) -> CommandDeps:
    return CommandDeps(configs=db.configs, history=db, models=catalog, limits=Limits(), usage=db.usage,
                       budgets=db.budgets)
