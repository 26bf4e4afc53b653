"""Fixtures shared by every test: a clean network environment (fakes live on 127.0.0.1)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk and httpx would send 127.0.0.1 traffic through a configured proxy.
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)
