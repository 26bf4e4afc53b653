"""The PostgreSQL connection: `?` SQL translated, and an unreachable server said in a sentence without the password."""

from __future__ import annotations

import socket

import pytest

from storage import Database
from storage.postgres import DatabaseUnreachable, to_numbered


def test_placeholders_are_numbered_outside_quotes() -> None:
    assert to_numbered("SELECT a FROM t WHERE b = ? AND c IN (?, ?) AND d = '?' AND \"e?\" = ?") == (
        "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3) AND d = '?' AND \"e?\" = $4")


async def test_unreachable_server_is_a_sentence_without_the_password() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(DatabaseUnreachable) as caught:
        await Database.open(f"postgresql://moa:hunter2@127.0.0.1:{port}/moa")

    message = str(caught.value)
    assert f"postgresql://moa:***@127.0.0.1:{port}/moa" in message and "MOA_DATABASE_URL" in message
    assert "hunter2" not in message
