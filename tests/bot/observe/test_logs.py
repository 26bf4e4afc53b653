"""Logs an operator can use: one line per record off a terminal, JSON lines on request, the level
from MOA_LOG_LEVEL, secrets redacted, and no warnings nobody can act on."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import discord
import pytest

from bot.observe.logs import configure_logging
from moa.errors import ConfigError

SECRET = "xoxb-very-secret-token"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)


def _configure(**env: str) -> io.StringIO:
    stream = io.StringIO()  # not a terminal, like a file, journald or `docker logs`
    configure_logging({"SLACK_BOT_TOKEN": SECRET, **env}, stream=stream)
    return stream


def test_a_long_record_off_a_terminal_is_one_line_with_time_level_and_logger() -> None:
    stream = _configure()
    logging.getLogger("moa.answers").info("answer %s", "word " * 60)

    [line] = stream.getvalue().splitlines()
    assert " INFO moa.answers: answer word word" in line and line.endswith("word ")


def test_json_lines_carry_level_logger_and_message_with_secrets_redacted() -> None:
    stream = _configure(MOA_LOG_FORMAT="json")
    logging.getLogger("bot.app.runner").warning("token %s failed", SECRET)

    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "bot.app.runner"
    assert entry["message"] == "token *** failed"
    assert SECRET not in line


def test_moa_log_level_drops_what_is_below_it() -> None:
    stream = _configure(MOA_LOG_LEVEL="warning")
    logging.getLogger("bot").info("routine")
    logging.getLogger("bot").warning("worth a look")

    assert "routine" not in stream.getvalue() and "worth a look" in stream.getvalue()


def test_a_bad_log_setting_is_a_sentence_naming_it() -> None:
    with pytest.raises(ConfigError, match="MOA_LOG_LEVEL must be one of debug, info, warning, error, not 'loud'"):
        _configure(MOA_LOG_LEVEL="loud")
    with pytest.raises(ConfigError, match="MOA_LOG_FORMAT must be text or json"):
        _configure(MOA_LOG_FORMAT="xml")


def test_discord_voice_warnings_are_not_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _configure()
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    discord.Client(intents=discord.Intents(guilds=True))

    assert "voice will NOT be supported" not in stream.getvalue()


def test_an_answer_line_in_json_carries_its_fields_as_an_object() -> None:
    stream = _configure(MOA_LOG_FORMAT="json")
    fields = {"platform": "slack", "channel": "C1", "seconds": 4.2, "calls": 10, "tokens": 5321,
              "cost_usd": 0.0021, "outcome": "answered"}
    logging.getLogger("moa.answers").info("answer …", extra={"answer": fields})

    assert json.loads(stream.getvalue())["answer"] == fields


def test_a_password_variable_and_a_value_with_surrounding_spaces_never_reach_a_log_line() -> None:
    # the log filter takes its secrets from bot/text/redact.py: *_PASSWORD counts, values are stripped
    stream = _configure(PGSQL_PASSWORD="hunter2-database", GROQ_API_KEY="  gsk_padded_in_env_file  ")
    logging.getLogger("bot").warning("connecting with hunter2-database and key gsk_padded_in_env_file")

    [line] = stream.getvalue().splitlines()
    assert "hunter2-database" not in line and "gsk_padded_in_env_file" not in line
    assert line.endswith("connecting with *** and key ***")
