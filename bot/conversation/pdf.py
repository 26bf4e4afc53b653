"""A PDF's text, read in a worker process that is stopped when its time is up.

pypdf parses in pure Python: a PDF of a few dozen KB can carry megabytes of compressed content streams and
take minutes (and hundreds of MB) to read. So the file goes to a temporary file and `pdf_worker.py` reads it
in its own process, page by page, stopping by itself once `max_chars` of text are in; it runs with its
address space limited to `PDF_MEMORY_BYTES` (RLIMIT_AS) and is killed when `budget_s` is over. Pages that
arrived before then are kept, and the person is told how many. At most `MOST_WORKERS` run at once in the
process: files are read before an answer takes its turn, so a burst of mentions with PDFs would otherwise
start a worker each; a file waits for a worker within its own budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import sys
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("pdf_worker.py")
MEMORY_EXIT = 3  # pdf_worker.py's exit status when its address space is used up
PDF_MEMORY_BYTES = 768 * 1024 * 1024  # the worker's address space; pypdf on a hostile file stops here
_LINE_LIMIT = 64 * 1024 * 1024  # one page's JSON line (its text is already cut to what fits)
MOST_WORKERS = max(2, os.cpu_count() or 2)  # PDF workers at once: parsing is CPU-bound, and each may use 768 MB


class WorkerSlots:
    """The process's PDF workers: at most `most` at once (one semaphore per event loop)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = \
            weakref.WeakKeyDictionary()

    def slots(self) -> asyncio.Semaphore:
        """This event loop's semaphore of worker slots."""
        loop = asyncio.get_running_loop()
        if (slots := self._by_loop.get(loop)) is None:
            slots = self._by_loop[loop] = asyncio.Semaphore(self.most)
        return slots


WORKERS = WorkerSlots(MOST_WORKERS)


@dataclass(frozen=True)
class PdfText:
    """What was read of one PDF."""

    text: str
    pages_read: int
    pages: int  # the PDF's page count (0 when not even that was read)
    stopped: str | None = None  # "time": its budget ran out; "memory": it needed more; "full": enough text;
    # "crashed": the worker ended without saying why


def _limit_memory() -> None:  # runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_AS, (PDF_MEMORY_BYTES, PDF_MEMORY_BYTES))


async def read_pdf(data: bytes, max_chars: int, budget_s: float) -> PdfText:
    """The PDF's text within `budget_s` seconds (waiting for a free worker included); ValueError with a
    reason when there is none to read."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + budget_s
    slots = WORKERS.slots()
    try:
        async with asyncio.timeout(budget_s):
            await slots.acquire()
    except TimeoutError:  # every worker stayed busy for the whole budget
        return PdfText("", 0, 0, "time")
    try:
        fd, name = tempfile.mkstemp(suffix=".pdf", prefix="moa-")
        try:
            with os.fdopen(fd, "wb") as handle:
                await asyncio.to_thread(handle.write, data)
            return await _run_worker(name, max_chars, max(0.0, ends - loop.time()))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)
    finally:
        slots.release()


async def _run_worker(path: str, max_chars: int, budget_s: float) -> PdfText:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), path, str(max_chars), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, preexec_fn=_limit_memory,
        limit=_LINE_LIMIT)
    assert proc.stdout is not None
    texts: list[str] = []
    pages = 0
    stopped: str | None = "memory"  # unless the worker says how it ended
    said_memory = False
    try:
        async with asyncio.timeout(budget_s):
            while line := await proc.stdout.readline():
                event: dict[str, Any] = json.loads(line)
                if "error" in event:
                    raise ValueError(_refusal(event))
                if "pages" in event:
                    pages = int(event["pages"])
                elif "page" in event:
                    texts.append(str(event["text"]))
                elif "stopped" in event:  # out of memory, said before exiting with MEMORY_EXIT
                    said_memory = True
                    break
                elif "done" in event:
                    stopped = "full" if event["done"] == "full" else None
                    break
    except TimeoutError:
        stopped = "time"
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()
    # Ended without a word of how: out of memory only when its exit status says so (asyncio's child watcher
    # can lose a status, so the worker's own line counts first); else say no more than that it stopped.
    if stopped == "memory" and not said_memory and proc.returncode != MEMORY_EXIT:
        log.warning("the PDF worker ended without finishing (exit status %s)", proc.returncode)
        stopped = "crashed"
    text = "\n\n".join(t for t in texts if t)
    if not text and stopped in (None, "full"):
        raise ValueError("it has no text to read (a scan? images of pages are not read)")
    return PdfText(text, len(texts), pages, stopped)


def _refusal(event: dict[str, Any]) -> str:
    match event["error"]:
        case "password":
            return "it is password-protected"
        case "aes":
            return "it is encrypted with AES, which needs the `cryptography` package installed to open"
        case _:
            return f"it is not a PDF I can open ({event.get('detail') or 'unreadable'})"
