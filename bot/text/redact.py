"""One redaction for everything a person sees: chat replies, progress, layer views, doctor, CLI and logs.

Hides configured secret values (variables named *_TOKEN, *_KEY, *_SECRET, *_PASSWORD), well-known key
shapes (Groq, Slack, OpenAI-style, Discord tokens), passwords in URLs in every form libpq reads
(`http://bob:***@host`, `?password=***`; storage/urls.py) and
`Authorization` values, wherever they appear — e.g. in a provider's error body quoting the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TypeVar

from moa.events import ProposerFinished, RunFailed
from storage.urls import mask_passwords, url_passwords

MASK = "***"
SECRET_SUFFIXES = ("_TOKEN", "_KEY", "_SECRET", "_PASSWORD")
MIN_SECRET_CHARS = 6  # shorter values would mask ordinary words

_KEY_SHAPES = re.compile(
    r"gsk_[A-Za-z0-9]{12,}|xox[abeoprs]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{16,}"
    r"|[MNO][A-Za-z\d_-]{23,}\.[\w-]{6}\.[\w-]{27,}")
# Authorization: Bearer xyz / "authorization": "Basic xyz" / authorization=xyz
_AUTHORIZATION = re.compile(
    r"(?P<head>(?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|basic|token|bot)\s+)?)"
    r"(?P<secret>[^\s'\",;}]+)", re.IGNORECASE)
# api_key=…, "api-key": "…", x-api-key: …
_KEY_FIELDS = re.compile(
    r"(?P<head>\b(?:x-)?api[_-]?key['\"]?\s*[:=]\s*['\"]?)(?P<secret>[^\s'\",;}&]+)", re.IGNORECASE)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names mark them as secrets (long enough to be worth hiding)."""
    found = [v.strip() for k, v in env.items() if k.upper().endswith(SECRET_SUFFIXES)]
    # A URL's password (MOA_DATABASE_URL's, as written and decoded) is hidden wherever it is quoted too.
    found += [p for k, v in env.items() if k.upper().endswith("_URL") for p in url_passwords(v)]
    return [v for v in found if len(v) >= MIN_SECRET_CHARS]


class Redactor:
    """Replaces secrets in text; built once from the configured secret values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        return cls(secret_values(env))

    def redact(self, text: str) -> str:
        """`text` with every secret it contains replaced by ***."""
        if not text:
            return text
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = mask_passwords(text)  # every libpq spelling of a password in a URL (storage/urls.py)
        text = _AUTHORIZATION.sub(lambda m: m["head"] + MASK, text)
        text = _KEY_FIELDS.sub(lambda m: m["head"] + MASK, text)
        return _KEY_SHAPES.sub(MASK, text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """One-off redaction of `text` (known shapes, URL passwords, Authorization values, `secrets`)."""
    return Redactor(secrets).redact(text)


E = TypeVar("E")


def redact_event(event: E, redactor: Redactor) -> E:
    """An engine event with the error text it carries (a provider's body may quote a key) redacted."""
    if isinstance(event, ProposerFinished | RunFailed) and event.error:
        return replace(event, error=redactor.redact(event.error))
    return event
