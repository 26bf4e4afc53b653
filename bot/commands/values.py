"""Reading the values people type after `/moa`: quoted names, "1,024", "0,7", pasted JSON."""

from __future__ import annotations

import json
import re

QUOTES = "\"'`“”‘’«»"  # people paste names in smart quotes too
_QUOTE_PAIRS = {('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("«", "»")}
_SMART_DOUBLE = str.maketrans({"“": '"', "”": '"', "„": '"', "″": '"'})


def token(word: str) -> str:
    """A name or model as typed, without the quotes or backticks people wrap it in."""
    return word.strip().strip(QUOTES).strip()


def unquote(text: str) -> str:
    """Text without one matching pair of quotes around the whole of it; quotes inside stay."""
    value = text.strip()
    if len(value) >= 2 and (value[0], value[-1]) in _QUOTE_PAIRS:
        value = value[1:-1].strip()
    return value


MAX_DIGITS = 18  # no setting is anywhere near this; int() of 4,300+ digits would raise


def whole(raw: str) -> int | None:
    """A whole number as typed ("1,024" too), or None (also for absurdly long numbers)."""
    text = raw.strip(QUOTES).replace(",", "")
    if not re.fullmatch(r"[+-]?\d+", text) or len(text.lstrip("+-").lstrip("0")) > MAX_DIGITS:
        return None
    return int(text)


def real(raw: str) -> float | None:
    """A number as typed, or None; "0,7" reads as 0.7 where the comma is the decimal mark."""
    text = raw.strip(QUOTES).replace(",", ".")
    if len(text) > 40 or not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", text):
        return None
    return float(text)


def import_json(payload: str) -> str:
    """Pasted config text as JSON; Slack's smart quotes become straight ones if the text needs it."""
    text = _strip_fences(payload)
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # parse_config says what is wrong with it
        fixed = text.translate(_SMART_DOUBLE)
        if fixed != text:
            try:
                json.loads(fixed)
                return fixed
            except (ValueError, RecursionError):
                pass
    # Invalid either way: parse_config reports the error in the text as pasted.
    return text


def _strip_fences(payload: str) -> str:
    """The JSON inside a pasted ```json … ``` block or `…` span."""
    text = payload.strip()
    match = re.fullmatch(r"```[\w-]*[ \t]*\n?(.*?)\n?[ \t]*```", text, flags=re.DOTALL)
    if match:
        text = match.group(1)
    return text.strip().strip("`").strip()
