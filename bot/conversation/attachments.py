"""A file someone brought with a question, and the limits on reading files.

Adapters describe each file as an `Attachment` (what the platform says about it, and how to download it);
`bot/conversation/reading.py` decides what the models get from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# Downloads at most this many bytes; raises FetchRefused with a sentence when it cannot or must not.
Fetch = Callable[[int], Awaitable[bytes]]


class FetchRefused(Exception):
    """A download that was refused or failed; the message says why, for the answer's note."""


@dataclass(frozen=True)
class Attachment:
    name: str
    mimetype: str  # as the platform reports it ("" when it does not)
    size: int | None  # bytes, as the platform reports it (None when unknown)
    fetch: Fetch = field(compare=False, repr=False)


@dataclass(frozen=True)
class FileLimits:
    """How much of people's files is read (MOA_FILE_* and MOA_VISION_MODELS, read by bot/settings.py)."""

    max_bytes: int = 8_000_000  # MOA_FILE_MAX_BYTES: a larger file is refused before it is downloaded
    max_count: int = 5  # MOA_FILE_MAX_COUNT: files read per message (0: none are)
    max_tokens: int = 3000  # MOA_FILE_MAX_TOKENS: all of a message's file text together, then trimmed
    max_image_bytes: int = 4_000_000  # images larger than this are not sent (Groq takes 4 MB at most)
    download_budget_s: float = 10.0  # MOA_FILE_DOWNLOAD_TIMEOUT: all of a message's downloads, in parallel
    read_budget_s: float = 20.0  # MOA_FILE_READ_TIMEOUT: parsing one PDF (its worker is then stopped)
    vision_models: frozenset[str] = frozenset()  # MOA_VISION_MODELS: models besides the known ones that read images
