"""What the models get from the files on a question.

Text, code, Markdown, CSV, JSON and logs go inline (decoded as UTF-8, the whole message's file text
bounded by `MOA_FILE_MAX_TOKENS` and trimmed with a note); PDFs as their text (pypdf); images beside the
question, for the models that read images (`moa.messages.attachments.Shown`). Whatever cannot be read — binary,
too large, an archive, a download refused — is named in the answer and told to the models; it never costs
the answer. A file over `MOA_FILE_MAX_BYTES` is refused on its declared size, before any download.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from bot.conversation.attachments import Attachment, FetchRefused, FileLimits
from moa.config.schema import MoaConfig
from moa.messages.attachments import Image, Shown, readers
from moa.messages.tokens import text_tokens

log = logging.getLogger(__name__)

TEXT_TYPES = {"application/json", "application/xml", "application/x-yaml", "application/yaml",
              "application/javascript", "application/x-sh", "application/sql", "application/toml",
              "application/x-python", "application/csv", "application/x-ndjson"}
TEXT_EXTENSIONS = {".txt", ".md", ".markdown", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".log",
                   ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".xml", ".html", ".css", ".sql", ".sh",
                   ".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".c", ".h", ".cc",
                   ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".scala", ".r", ".lua", ".pl", ".diff",
                   ".patch", ".env.example", ".tex"}
IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}
ARCHIVE_EXTENSIONS = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst", ".jar"}
ARCHIVE_TYPES = {"application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed",
                 "application/vnd.rar", "application/x-rar-compressed", "application/x-bzip2",
                 "application/x-xz", "application/zstd", "application/java-archive"}
NOT_UTF8_SHARE = 0.01  # more replacement characters than this: not text we can read


@dataclass(frozen=True)
class Reading:
    """What the files of one question came to."""

    texts: tuple[tuple[str, str], ...] = ()  # (file name, its text as the models get it)
    shown: Shown = field(default_factory=Shown)
    unread: tuple[tuple[str, str], ...] = ()  # (file name, why it was not read)
    trimmed: tuple[str, ...] = ()  # notes on files cut to fit

    def question(self, question: str) -> str:
        """The question as the models get it: the files' text after it, each marked by its name."""
        parts = [question]
        for name, text in self.texts:
            parts.append(f"--- file {name} ---\n{text}\n--- end of {name} ---")
        if self.unread:
            parts.append("(Also attached, but not readable here: "
                         + "; ".join(f"{name}, {why}" for name, why in self.unread) + ".)")
        return "\n\n".join(parts)

    def with_images(self, images: Sequence[Image]) -> Reading:
        """The same, also showing `images` (those of the thread's earlier messages)."""
        return replace(self, shown=replace(self.shown, images=(*self.shown.images, *images)))

    def notes(self, models: Iterable[str]) -> tuple[str, ...]:
        """The answer's notes: what was trimmed, not shown to some models, or not read at all."""
        notes = list(self.trimmed)
        unseen = self.shown.note(models)
        if unseen:
            notes.append(unseen)
        notes += [f"I could not read {name}: {why}." for name, why in self.unread]
        return tuple(notes)


def kind_of(attachment: Attachment) -> str:
    """"text", "pdf", "image", "archive" or "binary", from the reported type and the name."""
    mimetype = attachment.mimetype.split(";")[0].strip().lower()
    ext = os.path.splitext(attachment.name.lower())[1]
    if mimetype == "application/pdf" or ext == ".pdf":
        return "pdf"
    if mimetype in IMAGE_TYPES:
        return "image"
    if mimetype in ARCHIVE_TYPES or ext in ARCHIVE_EXTENSIONS:
        return "archive"
    if mimetype.startswith("text/") or mimetype in TEXT_TYPES or mimetype.endswith(("+json", "+xml")) \
            or ext in TEXT_EXTENSIONS:
        return "text"
    return "binary"


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def decode_text(data: bytes) -> str | None:
    """UTF-8 text (a BOM dropped, a few bad bytes replaced), or None when it is not text."""
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        text = data.decode("utf-8-sig", errors="replace")
    if text and text.count("\ufffd") / len(text) > NOT_UTF8_SHARE:
        return None
    return text


def pdf_text(data: bytes) -> str:
    """The PDF's text, page by page; raises ValueError with a reason when there is none to read."""
    from pypdf import PdfReader  # imported when a PDF comes: most answers never need it
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ValueError("it is password-protected")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as err:
        raise ValueError(f"it is not a PDF I can open ({err})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise ValueError("it has no text to read (a scan? images of pages are not read)")
    return text


async def read_attachments(attachments: Sequence[Attachment], limits: FileLimits) -> Reading:
    """Download and read what can be read, within the limits; never raises for a file's sake."""
    texts: list[tuple[str, str]] = []
    images: list[Image] = []
    unread: list[tuple[str, str]] = []
    trimmed: list[str] = []
    room = limits.max_tokens
    for index, attachment in enumerate(attachments):
        name = attachment.name or "a file"
        if index >= limits.max_count:
            unread.append((name, f"only the first {limits.max_count} files of a message are read "
                                 "(MOA_FILE_MAX_COUNT)"))
            continue
        kind = kind_of(attachment)
        if kind in ("archive", "binary"):
            unread.append((name, "it is an archive; I don't open archives" if kind == "archive"
                           else f"it is not text, a PDF or an image ({attachment.mimetype or 'unknown type'})"))
            continue
        if attachment.size is not None and attachment.size > limits.max_bytes:
            unread.append((name, f"it is {_megabytes(attachment.size)}, over the "
                                 f"{_megabytes(limits.max_bytes)} limit (MOA_FILE_MAX_BYTES)"))
            continue
        try:
            async with asyncio.timeout(limits.download_timeout_s):
                data = await attachment.fetch(limits.max_bytes)
        except FetchRefused as err:
            unread.append((name, str(err).rstrip(".")))
            continue
        except TimeoutError:
            unread.append((name, f"the download took longer than {limits.download_timeout_s:.0f} s"))
            continue
        except Exception as err:  # a failed download costs that file, never the answer
            log.warning("downloading %s failed", name, exc_info=True)
            unread.append((name, f"the download failed ({type(err).__name__})"))
            continue
        if len(data) > limits.max_bytes:
            unread.append((name, f"it is over the {_megabytes(limits.max_bytes)} limit (MOA_FILE_MAX_BYTES)"))
            continue
        if kind == "image":
            if len(data) > limits.max_image_bytes:
                unread.append((name, f"images over {_megabytes(limits.max_image_bytes)} are not sent to models"))
            else:
                images.append(Image(name, attachment.mimetype.split(";")[0].strip().lower(), data))
            continue
        if kind == "pdf":
            try:
                text: str | None = await asyncio.to_thread(pdf_text, data)
            except ValueError as err:
                unread.append((name, str(err)))
                continue
            except Exception as err:  # pypdf on a broken file: that file is not read, the answer goes on
                log.warning("reading the PDF %s failed", name, exc_info=True)
                unread.append((name, f"it is not a PDF I can open ({type(err).__name__})"))
                continue
        else:
            text = decode_text(data)
            if text is None:
                unread.append((name, "it is not UTF-8 text"))
                continue
        assert text is not None
        text = text.replace("\r\n", "\n").strip()
        if room <= 0:
            unread.append((name, f"the files before it used all {limits.max_tokens:,} tokens allowed for "
                                 "files (MOA_FILE_MAX_TOKENS)"))
            continue
        tokens = text_tokens(text)
        if tokens > room:
            text = text[:max(1, len(text) * room // tokens)].rstrip() + "\n[… the rest was cut]"
            trimmed.append(f"Only the first ~{room:,} tokens of {name} (of ~{tokens:,}) reached the models "
                           "(MOA_FILE_MAX_TOKENS).")
            tokens = room
        room -= tokens
        texts.append((name, text))
    return Reading(tuple(texts), Shown(tuple(images), readers(limits.vision_models)), tuple(unread),
                   tuple(trimmed))


FILES_ONLY = "(The question is in the attached files.)"  # a mention with files and no words


def models_of(config: MoaConfig) -> list[str]:
    """Every model a run of `config` may call (its proposers, the aggregator and the fallback)."""
    models = [agent.model_name for _, agent in config.agents] + [config.main_model]
    fallback = config.fallback()
    return models + ([fallback] if fallback else [])
