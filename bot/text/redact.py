"""One redaction for everything a person sees: chat replies, progress, layer views, doctor, CLI and logs.

Hides configured secret values (variables named *_TOKEN, *_KEY, *_SECRET, *_PASSWORD), well-known key
shapes (Groq, Slack, OpenAI-style, Discord tokens), passwords in URLs (`http://bob:***@host`) and
`Authorization` values, wherever they appear — e.g. in a provider's error body quoting the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TypeVar

from moa.events import ProposerFinished, RunFailed

MASK = "***"
SECRET_SUFFIXES = ("_TOKEN", "_KEY", "_SECRET", "_PASSWORD")
MIN_SECRET_CHARS = 6  # shorter values would mask ordinary words

_KEY_SHAPES = re.compile(
    r"gsk_[A-Za-z0-9]{12,}|xox[abeoprs]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{16,}"
    r"|[MNO][A-Za-z\d_-]{23,}\.[\w-]{6}\.[\w-]{27,}")
# scheme://user:password@ — the password part, up to the @ that ends the userinfo.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<secret>[^\s@/]+)(?=@)")
# Authorization: Bearer xyz / "authorization": "Basic xyz" / authorization=xyz
_AUTHORIZATION = re.compile(
    r"(?P<head>(?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|basic|token|bot)\s+)?)"
    r"(?P<secret>[^\s'\",;}]+)", re.IGNORECASE)
# api_key=…, "api-key": "…", x-api-key: …
_KEY_FIELDS = re.compile(
    r"(?P<head>\b(?:x-)?api[_-]?key['\"]?\s*[:=]\s*['\"]?)(?P<secret>[^\s'\",;}&]+)", re.IGNORECASE)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names mark them as secrets (long enough to be worth hiding)."""
    return [v.strip() for k, v in env.items()
            if k.upper().endswith(SECRET_SUFFIXES) and len(v.strip()) >= MIN_SECRET_CHARS]


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
        text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
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
