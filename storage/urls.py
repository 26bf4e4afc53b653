"""Passwords inside connection URLs, hidden: the one function every sentence, log line and CLI output uses
(storage.postgres.redacted for database URLs, bot.text.redact for everything else).

libpq takes a password in many spellings: `postgresql://user:pw@host`, `postgresql://:pw@host`,
`…?password=pw` or `…&password=pw`, percent-encoded (`p%40ss`), a raw `@` inside (`p@ss@host`: the last
`@` of the authority ends it), and `password=pw` in a key=value connection string.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

# scheme://user:password@host — the password runs to the *last* @ before the host (a raw @ may be in it).
_USERINFO = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@?#]*:)(?P<secret>[^\s/?#]*)(?=@[^\s@/?#]*(?:[/?#\s'\"]|$))")
# password=… in a query string or a key=value connection string ('quoted values' too).
_PASSWORD_FIELD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|[^\s&#'\",;)]+)",
                             re.IGNORECASE)


def mask_passwords(text: str) -> str:
    """`text` with the password of every connection URL (or connection string) in it replaced by ***."""
    if not text or ("@" not in text and "assword" not in text.lower()):
        return text
    text = _USERINFO.sub(lambda m: m["head"] + MASK, text)
    return _PASSWORD_FIELD.sub(lambda m: m["head"] + MASK, text)


def url_passwords(text: str) -> list[str]:
    """The passwords a URL or connection string carries, as written and percent-decoded (to hide them
    wherever else they turn up, e.g. quoted in an error)."""
    found = [m["secret"] for m in _USERINFO.finditer(text)]
    found += [m["secret"].strip("'") for m in _PASSWORD_FIELD.finditer(text)]
    return [p for raw in found if raw for p in {raw, unquote(raw)}]
