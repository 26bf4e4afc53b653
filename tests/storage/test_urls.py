"""Passwords in connection URLs never print, in any spelling libpq reads — through the one function that
database sentences (storage.postgres.redacted) and every other output (bot.text.redact) use."""

from __future__ import annotations

import pytest

from bot.text.redact import Redactor
from storage.postgres import connect_reason, redacted
from storage.urls import mask_passwords, url_passwords

FORMS = {
    "user:pw@": ("postgresql://moa:hunter22@db.example:5432/moa", "hunter22", "postgresql://moa:***@db.example:5432/moa"),
    ":pw@": ("postgresql://:hunter22@db.example/moa", "hunter22", "postgresql://:***@db.example/moa"),
    "?password=": ("postgresql://moa@db.example/moa?password=hunter22", "hunter22",
                   "postgresql://moa@db.example/moa?password=***"),
    "&password=": ("postgresql://moa@db.example/moa?sslmode=require&password=hunter22&application_name=x",
                   "hunter22", "postgresql://moa@db.example/moa?sslmode=require&password=***&application_name=x"),
    "percent-encoded": ("postgresql://moa:hun%40ter%3A22@db.example/moa", "hun%40ter%3A22",
                        "postgresql://moa:***@db.example/moa"),
    "raw @ inside": ("postgresql://moa:hun@ter@22@db.example/moa", "ter@22", "postgresql://moa:***@db.example/moa"),
    "no path": ("postgres://moa:hunter22@db.example", "hunter22", "postgres://moa:***@db.example"),
    "key=value": ("host=db.example user=moa password=hunter22 dbname=moa", "hunter22",
                  "host=db.example user=moa password=*** dbname=moa"),
    "quoted key=value": ("host=db user=moa password='hun ter22' dbname=moa", "ter22",
                         "host=db user=moa password=*** dbname=moa"),
}


@pytest.mark.parametrize("url, secret, shown", FORMS.values(), ids=FORMS.keys())
def test_every_spelling_of_a_password_is_masked_everywhere(url: str, secret: str, shown: str) -> None:
    assert mask_passwords(url) == shown
    assert redacted(url) == shown
    sentence = f"Cannot connect to {url} (MOA_DATABASE_URL): refused."
    assert secret not in Redactor().redact(sentence)
    assert secret not in Redactor.from_env({"MOA_DATABASE_URL": url}).redact(sentence)


def test_a_password_quoted_elsewhere_is_hidden_as_written_and_decoded() -> None:
    url = "postgresql://moa:s%23cretpass@db/moa"
    assert set(url_passwords(url)) == {"s%23cretpass", "s#cretpass"}
    error = "authentication failed: password 's#cretpass' is wrong"
    assert "s#cretpass" not in Redactor.from_env({"MOA_DATABASE_URL": url}).redact(error)
    assert "s#cretpass" not in connect_reason(OSError(error), url)


def test_text_without_urls_is_left_alone() -> None:
    text = "user@example.com wrote: the password field is empty; see https://example.com/a@b"
    assert mask_passwords(text) == text


@pytest.mark.parametrize("error, says", [
    (TimeoutError(), "stayed silent"), (ValueError("Invalid IPv6 URL"), "cannot be read (Invalid IPv6 URL)"),
    (OverflowError("connect(): port must be 0-65535."), "port must be 0-65535"), (OSError(), "OSError"),
])
def test_a_connection_failure_always_has_a_reason(error: BaseException, says: str) -> None:
    assert says in connect_reason(error, "postgresql://moa:hunter22@db/moa")


async def test_a_port_that_accepts_but_never_answers_is_named_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from storage import postgres

    held: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept, read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(postgres, "CONNECT_TIMEOUT_S", 0.5)
    try:
        with pytest.raises(postgres.DatabaseUnreachable) as caught:
            await postgres.PgConnection.open(f"postgresql://moa:hunter22@127.0.0.1:{port}/moa")
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert "stayed silent" in str(caught.value) and "hunter22" not in str(caught.value)
