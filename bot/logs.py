"""Logging to stderr, with every configured secret replaced before a record is written."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from rich.console import Console
from rich.logging import RichHandler

SECRET_SUFFIXES = ("_TOKEN", "_KEY", "_SECRET")


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names mark them as secrets (long enough to be worth hiding)."""
    return [v for k, v in env.items() if k.upper().endswith(SECRET_SUFFIXES) and len(v) >= 6]


class RedactSecrets(logging.Filter):
    """Replaces secret values in the formatted message and arguments of each record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
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
