"""Fixtures shared by every test: a clean network environment (fakes live on 127.0.0.1), PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.postgres import ENV_URL, PostgresServer, create_database, drop_database

# Property tests judge what the code computes, not how fast: Hypothesis's default 200 ms per example (and its
# check that examples are generated quickly) fail them on a machine busy with the other test workers (CI runs
# four on two cores).
settings.register_profile("moa", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("moa")


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk and httpx would send 127.0.0.1 traffic through a configured proxy.
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A PostgreSQL server for the whole run: MOA_TEST_DATABASE_URL's, else a throwaway one started here.

    Never skipped: if the server cannot start, every test that needs it errors with the server's log.
    """
    given = os.environ.get(ENV_URL, "").strip()
    if given:
        yield given
        return
    server = PostgresServer.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def postgres_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    url = await create_database(postgres_admin_url)
    yield url
    await drop_database(postgres_admin_url, url)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop SQLite worker threads a test left open, so the run ends instead of hanging at exit.

    aiosqlite runs each connection on a non-daemon thread that lives until the connection is closed; one
    left open (say, by a test that failed before its teardown) keeps the interpreter from exiting. Said
    on stderr, so a leak is seen rather than hidden.
    """
    import gc
    import sys

    import aiosqlite

    gc.collect()  # connections only garbage now are stopped by their own __del__
    open_ = [obj for obj in gc.get_objects() if isinstance(obj, aiosqlite.Connection) and obj._running]
    for conn in open_:
        conn.stop()
    if open_:
        print(f"\nwarning: {len(open_)} SQLite connection(s) were left open by the tests; stopped them",
              file=sys.stderr)
