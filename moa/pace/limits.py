"""What rate limits a model has: MOA_LIMITS as declared, and the durations Groq writes ("2m59.56s")."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from moa.errors import ConfigError

_LIMIT_PART = re.compile(r"^(\d+)\s*(rpm|tpm)$", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_TRY_AGAIN = re.compile(r"try again in\s+((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", re.IGNORECASE)


@dataclass(frozen=True)
class DeclaredLimits:
    """Limits an operator declared for one model (None: not declared)."""

    rpm: int | None = None
    tpm: int | None = None


def parse_limits(spec: str) -> dict[str, DeclaredLimits]:
    """MOA_LIMITS: `model=LIMIT[+LIMIT]` entries separated by commas, a LIMIT being `<n>rpm` or `<n>tpm`.

    E.g. `ollama:llama3.1:8b=60rpm,openai/gpt-oss-20b=30rpm+8000tpm`; `…=30rpm,8000tpm` also works (a
    bare limit belongs to the model before it). ConfigError names the part that is wrong."""
    out: dict[str, DeclaredLimits] = {}
    model = ""
    for raw in (p.strip() for p in spec.split(",")):
        if not raw:
            continue
        if "=" in raw:
            model, _, limits = raw.rpartition("=")
            model = model.strip()
            if not model:
                raise ConfigError(f"MOA_LIMITS entry {raw!r} names no model; write e.g. openai/gpt-oss-20b=30rpm.")
        elif model:
            limits = raw
        else:
            raise ConfigError(f"MOA_LIMITS entry {raw!r} must look like model=30rpm or model=30rpm+8000tpm.")
        current = out.get(model, DeclaredLimits())
        for part in (p.strip() for p in limits.split("+")):
            match = _LIMIT_PART.match(part)
            if not match or int(match.group(1)) < 1:
                raise ConfigError(f"MOA_LIMITS limit {part!r} for {model} must be a whole number of requests or "
                                  "tokens per minute, e.g. 30rpm or 8000tpm.")
            n, unit = int(match.group(1)), match.group(2).lower()
            current = DeclaredLimits(rpm=n, tpm=current.tpm) if unit == "rpm" else DeclaredLimits(current.rpm, n)
        out[model] = current
    return out


def parse_duration(text: str) -> float | None:
    """Groq's reset values ("7.66s", "2m59.56s", "120ms", "1h2m") in seconds; None when unreadable, negative
    or endless ("inf", "1e999")."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            return None
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        value = sum(float(n) * scale[u] for n, u in parts)
    return value if math.isfinite(value) and value >= 0 else None


def try_again_s(message: str) -> float | None:
    """The wait a 429 message asks for ("Please try again in 5.289s"), None when it names none."""
    match = _TRY_AGAIN.search(message)
    return parse_duration(match.group(1)) if match else None


