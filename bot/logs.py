"""Logging to stderr, with every configured secret replaced before a record is written."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from rich.console import Console
from rich.logging import RichHandler

from bot.redact import Redactor

SECRET_SUFFIXES = ("_TOKEN", "_KEY", "_SECRET")


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names mark them as secrets (long enough to be worth hiding)."""
    return [v for k, v in env.items() if k.upper().endswith(SECRET_SUFFIXES) and len(v) >= 6]


class RedactSecrets(logging.Filter):
    """Replaces secrets (configured values, key shapes, URL passwords, Authorization values) in each record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)  # bot/redact.py: the one redaction chat, doctor and CLI use too

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


def configure_logging(env: Mapping[str, str], level: int = logging.INFO) -> None:
    """Rich logs on stderr; secrets from `env` never reach them."""
    # stderr: stdout is for answers (`moa-bot ask` pipes the final answer there).
    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False, markup=False)
    handler.addFilter(RedactSecrets(secret_values(env)))
    logging.basicConfig(level=level, handlers=[handler], format="%(name)s: %(message)s", force=True)
    for noisy in ("httpx", "httpcore", "discord.gateway", "discord.client", "aiohttp.access", "groq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
