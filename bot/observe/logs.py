"""Logging to stderr, with every configured secret replaced before a record is written.

`MOA_LOG_LEVEL` (debug, info, warning, error; default info) and `MOA_LOG_FORMAT`: `json` for one JSON
object per line, `text` for one plain line per record; unset, a terminal gets rich's columns and anything
else (a file, journald, docker logs) plain one-line records — never wrapped at 80 columns.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import TextIO

from rich.console import Console
from rich.logging import RichHandler

from bot.text.redact import Redactor
from moa.errors import ConfigError

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Warnings nobody running this bot can act on: it never joins voice, and it passes bolt a client on purpose.
UNACTIONABLE = ("voice will NOT be supported", "`token` will be unused")


class RedactSecrets(logging.Filter):
    """Replaces secrets (configured values, key shapes, URL passwords, Authorization values) in each record."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor  # bot/text/redact.py: the one redaction chat, doctor and CLI use too

    def redact(self, text: str) -> str:
        return self._redactor.redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        # Always: URL passwords and Authorization values are hidden even with no configured secret.
        message = record.getMessage()
        record.msg, record.args = self.redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class DropUnactionable(logging.Filter):
    """Drops the library warnings listed in UNACTIONABLE."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            return True
        message = record.getMessage()
        return not any(text in message for text in UNACTIONABLE)


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message (the traceback as `exc`, an answer's
    fields as `answer`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        fields = getattr(record, "answer", None)  # bot.observe.answer_report's structured fields
        if isinstance(fields, dict):
            entry["answer"] = fields
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def log_level(env: Mapping[str, str]) -> int:
    """MOA_LOG_LEVEL as a logging level; ConfigError naming the variable for a bad value."""
    raw = env.get("MOA_LOG_LEVEL", "").strip().lower() or "info"
    if raw not in LEVELS:
        raise ConfigError(f"MOA_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {raw!r}.")
    return LEVELS[raw]


def log_format(env: Mapping[str, str], stream: TextIO) -> str:
    """"rich", "text" or "json": MOA_LOG_FORMAT, else rich on a terminal and text elsewhere."""
    raw = env.get("MOA_LOG_FORMAT", "").strip().lower()
    if raw and raw not in FORMATS:
        raise ConfigError(f"MOA_LOG_FORMAT must be text or json, not {raw!r}.")
    if raw:
        return raw
    return "rich" if stream.isatty() else "text"


def _handler(kind: str, stream: TextIO) -> logging.Handler:
    if kind == "rich":
        return RichHandler(console=Console(file=stream), show_path=False, rich_tracebacks=False, markup=False)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines() if kind == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(env: Mapping[str, str], level: int | None = None, stream: TextIO | None = None) -> None:
    """Logs on stderr in the format and level `env` asks for; secrets from `env` never reach them."""
    # stderr: stdout is for answers (`moa-bot ask` pipes the final answer there).
    stream = stream if stream is not None else sys.stderr
    handler = _handler(log_format(env, stream), stream)
    handler.addFilter(DropUnactionable())
    handler.addFilter(RedactSecrets(Redactor.from_env(env)))
    # basicConfig gives the rich handler this format; the others have their own.
    logging.basicConfig(level=level if level is not None else log_level(env), handlers=[handler],
                        format="%(name)s: %(message)s", force=True)
    for noisy in ("httpx", "httpcore", "discord.gateway", "discord.client", "aiohttp.access", "groq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
