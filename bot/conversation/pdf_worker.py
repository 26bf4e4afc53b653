"""The PDF reader's worker process: `python pdf_worker.py FILE MAX_CHARS`, one JSON line per event on stdout.

Run by `bot/conversation/pdf.py` as a separate process (this file only imports the standard library and
pypdf, so it runs as a plain script), under an address-space limit and killed when its time is up: pypdf
on a hostile file can take minutes and hundreds of megabytes, and a thread could be neither stopped nor
bounded. Lines: `{"pages": N}` once, then `{"page": i, "text": …}` per page in order, then `{"done": "all"}`
or `{"done": "full"}` (MAX_CHARS of text read, the rest not parsed); or `{"error": "password" | "aes" |
"unreadable", "detail": …}`. Out of memory it says `{"stopped": "memory"}` when it still can, and exits with
status 3.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _say(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()  # the parent keeps what arrived before it had to stop us


def read(path: str, max_chars: int) -> None:
    """Report the text of the PDF at `path`, page by page, until MAX_CHARS are read."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:  # a file with only an owner password opens with the empty user password, as in any viewer
                opened = reader.decrypt("")
            except DependencyError as err:
                _say({"error": "aes", "detail": str(err)})
                return
            if not opened:
                _say({"error": "password", "detail": ""})
                return
        _say({"pages": len(reader.pages)})
        left = max_chars
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            _say({"page": number, "text": text[:left]})
            left -= len(text)
            if left <= 0:
                _say({"done": "full"})
                return
    except FileNotDecryptedError:
        _say({"error": "password", "detail": ""})
        return
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as err:
        # A broken file, or a stream past pypdf's own inflate limit (LimitReachedError).
        _say({"error": "unreadable", "detail": f"{type(err).__name__}: {err}"[:200]})
        return
    _say({"done": "all"})


MEMORY_EXIT = 3  # the exit status that says the address-space limit was reached


if __name__ == "__main__":
    try:
        read(sys.argv[1], int(sys.argv[2]))
    except MemoryError:
        # The allocation that failed is not held, so a short line usually fits; the exit status says it
        # too, for when it does not (and a parent that lost the status still has the line).
        try:
            _say({"stopped": "memory"})
        finally:
            os._exit(MEMORY_EXIT)
