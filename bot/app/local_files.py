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


def files_in(line: str) -> tuple[str, tuple[Attachment, ...], tuple[str, ...]]:
    """A console question with its `@FILE` words read as attachments (each left as the file's name). A
    word is a file only when such a file exists ("what does @property do?" goes to the models as
    written); the third value names the words that look like paths but are not files, for a hint."""
    attachments: list[Attachment] = []
    not_files: list[str] = []

    def as_file(match: re.Match[str]) -> str:
        word = match.group(1)
        if not Path(word).expanduser().is_file():
            if "." in word or "/" in word:
                not_files.append(word)
            return match.group(0)
        attachments.append(local_attachment(word))
        return Path(word).name

    return _FILE_WORD.sub(as_file, line).strip(), tuple(attachments), tuple(not_files)
