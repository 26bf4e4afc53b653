"""Storage on an answer's hot path: retried briefly while another program holds the lock, and given up
for the rest of the answer once it fails — a storage failure costs what could not be kept, never the
answer. The answer then carries `warning()` saying what was lost.

Only a `StorageFailure` (storage/errors.py: locked, disk full, read-only, connection lost…) counts as
storage failing; any other exception is a bug: logged with its traceback, and the answer's warning says
something unexpected went wrong instead of blaming the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from storage.errors import StorageFailure

log = logging.getLogger(__name__)

T = TypeVar("T")

LOCK_RETRIES = 2  # on top of SQLite's own busy timeout
LOCK_RETRY_DELAY_S = 0.05
UNEXPECTED = "an unexpected error (the log has the details)"


@dataclass(frozen=True)
class Kept(Generic[T]):
    """What became of one storage operation: `ran` and its `value`, or not run (storage failed)."""

    ran: bool
    value: T | None = None


class StorageKeeper:
    """One answer's writes. After the first failure it stops trying (each try may wait on a lock)."""

    def __init__(self) -> None:
        self.failure: str | None = None  # why it stopped, e.g. "the disk is full"
        self.unexpected = False  # the failure was a bug, not storage

    async def value(self, what: str, op: Callable[[], Awaitable[T]]) -> Kept[T]:
        """`op()`'s result, or Kept(ran=False) when it failed (now or earlier in this answer)."""
        if self.failure is not None:
            return Kept(False)
        for attempt in range(LOCK_RETRIES + 1):
            try:
                return Kept(True, await op())
            except asyncio.CancelledError:
                raise
            except StorageFailure as err:
                if err.kind == "locked" and attempt < LOCK_RETRIES:
                    await asyncio.sleep(LOCK_RETRY_DELAY_S * (attempt + 1))
                    continue
                self.failure = err.reason
                log.warning("storage failed while %s (%s): %s", what, err.reason, err)
                return Kept(False)
            except Exception:  # a bug: its traceback in the log, the answer still delivered
                self.failure, self.unexpected = UNEXPECTED, True
                log.exception("unexpected error while %s", what)
                return Kept(False)
        return Kept(False)

    async def write(self, what: str, op: Callable[[], Awaitable[object]]) -> bool:
        """Run a write; False when it did not happen."""
        return (await self.value(what, op)).ran

    def warning(self) -> str | None:
        """The sentence an answer carries when storage failed during it."""
        if self.failure is None:
            return None
        if self.unexpected:
            return ("Something unexpected went wrong while saving this answer, so its layers could not be "
                    "saved and it won't be part of this thread's history.")
        return (f"Storage failed ({self.failure}): the layers of this answer could not be saved, and it "
                "won't be part of this thread's history.")


def failure_note(failure: str, consequence: str) -> str:
    """The note an answer carries when a read failed: storage's reason, or that something unexpected did."""
    if failure == UNEXPECTED:
        return f"Something unexpected went wrong, so {consequence}"
    return f"Storage failed ({failure}): {consequence}"


async def read(what: str, op: Callable[[], Awaitable[T]], default: T) -> tuple[T, str | None]:
    """A read that must not cost the answer: `op()`'s result, or `default` and why it failed."""
    try:
        return await op(), None
    except asyncio.CancelledError:
        raise
    except StorageFailure as err:
        log.warning("storage read failed while %s (%s): %s", what, err.reason, err)
        return default, err.reason
    except Exception:
        log.exception("unexpected error while %s", what)
        return default, UNEXPECTED
