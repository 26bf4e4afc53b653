"""Storage on an answer's hot path: retried briefly while another program holds the lock, and given up
for the rest of the answer once it fails — a storage failure costs what could not be kept, never the
answer. The answer then carries `warning()` saying what was lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from storage.errors import describe, is_busy

log = logging.getLogger(__name__)

T = TypeVar("T")

LOCK_RETRIES = 2  # on top of SQLite's own busy timeout
LOCK_RETRY_DELAY_S = 0.05


class StorageKeeper:
    """One answer's writes. After the first failure it stops trying (each try may wait on a lock)."""

    def __init__(self) -> None:
        self.failure: str | None = None  # why storage failed, e.g. "the disk is full"

    async def value(self, what: str, op: Callable[[], Awaitable[T]]) -> T | None:
        """`op()`'s result, or None when storage failed (now or earlier in this answer)."""
        if self.failure is not None:
            return None
        for attempt in range(LOCK_RETRIES + 1):
            try:
                return await op()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # any storage failure degrades the same way
                if is_busy(err) and attempt < LOCK_RETRIES:
                    await asyncio.sleep(LOCK_RETRY_DELAY_S * (attempt + 1))
                    continue
                self.failure = describe(err)
                log.warning("storage failed while %s (%s): %r", what, self.failure, err)
                return None
        return None

    async def write(self, what: str, op: Callable[[], Awaitable[object]]) -> bool:
        """Run a write; False when it did not happen."""
        if self.failure is not None:
            return False
        await self.value(what, op)
        return self.failure is None

    def warning(self) -> str | None:
        """The sentence an answer carries when storage failed during it."""
        if self.failure is None:
            return None
        return (f"Storage failed ({self.failure}): the layers of this answer could not be saved, and it "
                "won't be part of this thread's history.")


async def read(what: str, op: Callable[[], Awaitable[T]], default: T) -> tuple[T, str | None]:
    """A read that must not cost the answer: `op()`'s result, or `default` and why it failed."""
    try:
        return await op(), None
    except asyncio.CancelledError:
        raise
    except Exception as err:
        reason = describe(err)
        log.warning("storage read failed while %s (%s): %r", what, reason, err)
        return default, reason
