"""The one reading of a number an operator set in an environment variable: empty means the default, a bad
value is a ConfigError naming the variable, what would work, and what was typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from moa.errors import ConfigError

N = TypeVar("N", int, float)


def number(name: str, raw: str, parse: Callable[[str], N], rule: str, valid: Callable[[N], bool]) -> N | None:
    """`raw` (the variable's text) parsed, or None when it is empty; ConfigError "NAME must be RULE, not 'raw'."
    when it does not parse or is not `valid`."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = parse(text)
    except ValueError:
        raise ConfigError(f"{name} must be {rule}, not {text!r}.") from None
    if not valid(value):
        raise ConfigError(f"{name} must be {rule}, not {text!r}.")
    return value


def bounded(kind: str, low: N, high: N | None) -> tuple[str, Callable[[N], bool]]:
    """The rule's words and check for a number from `low` to `high` (no upper bound when None)."""
    words = f"{kind} from {low} to {high}" if high is not None else f"{kind} {low} or more"
    return words, lambda value: low <= value and (high is None or value <= high)
