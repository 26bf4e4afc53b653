"""Logging to stderr, with every configured secret replaced before a record is written."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from rich.console import Console
from rich.logging import RichHandler

from bot.redact import SECRET_SUFFIXES, Redactor, secret_values

__all__ = ["SECRET_SUFFIXES", "RedactSecrets", "configure_logging", "secret_values"]


class RedactSecrets(logging.Filter):
    """Replaces secrets (configured values, key shapes, URL passwords, Authorization values) in each record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def redact(self, text: str) -> str:
        return self._redactor.redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        # Always: patterns (URL passwords, Authorization values) apply even with no configured secret.
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
