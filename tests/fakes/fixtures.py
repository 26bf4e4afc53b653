"""Pytest fixtures around the fakes.

Import them into a conftest: `from tests.fakes.fixtures import fake_groq`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.fakes.groq_server import FakeGroq


@pytest_asyncio.fixture
async def fake_groq(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeGroq]:
    """A started fake Groq on 127.0.0.1; GROQ_BASE_URL points at it and GROQ_API_KEY is "gsk_test"."""
    async with FakeGroq() as fake:
        monkeypatch.setenv("GROQ_BASE_URL", fake.base_url)
        monkeypatch.setenv("GROQ_API_KEY", "gsk_test")
        yield fake
