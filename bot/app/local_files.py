"""Files from this machine as `Attachment`s: `moa-bot ask --file PATH` and the console's `@FILE`."""

from __future__ import annotations

import asyncio
import mimetypes
import re
from pathlib import Path

from bot.conversation.attachments import Attachment, FetchRefused

# "@notes.txt" or "@~/logs/app.log" in a console question (an address like a@b.c is not one: it must
# start the line or follow a space).
_FILE_WORD = re.compile(r"(?:(?<=\s)|^)@(\S+)")


def local_attachment(path: str | Path) -> Attachment:
    """The file at `path`; ValueError with a sentence when there is no readable file there."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"There is no file {path}.")
    mimetype = mimetypes.guess_type(file.name)[0] or ""

    async def fetch(max_bytes: int) -> bytes:
        def read() -> bytes:
            with file.open("rb") as handle:
                return handle.read(max_bytes + 1)
        try:
            return await asyncio.to_thread(read)
        except OSError as err:
            raise FetchRefused(f"it could not be read ({err.strerror or err})") from None

    return Attachment(name=file.name, mimetype=mimetype, size=file.stat().st_size, fetch=fetch)


def files_in(line: str) -> tuple[str, tuple[Attachment, ...]]:
    """A console question with its `@FILE` words read as attachments (each left as the file's name);
    ValueError when one names no file."""
    attachments = [local_attachment(match) for match in _FILE_WORD.findall(line)]
    return _FILE_WORD.sub(lambda m: Path(m.group(1)).name, line).strip(), tuple(attachments)
