"""What the models get from the files on a question.

Text, code, Markdown, CSV, JSON and logs go inline (decoded as UTF-8, the whole message's file text
bounded by `MOA_FILE_MAX_TOKENS` and trimmed with a note); PDFs as their text (`bot/conversation/pdf.py`: a
worker process, page by page, stopped at the token limit or its time budget); images beside the question,
for the models that read images (`moa.messages.attachments.Shown`). Whatever cannot be read — binary, too
large, an archive, a download refused or stalled — is named in the answer and told to the models; it never
costs the answer. A file over `MOA_FILE_MAX_BYTES` is refused on its declared size, before any download.
A message's files download in parallel within one budget (`MOA_FILE_DOWNLOAD_TIMEOUT`); a file still on
its way then is named ("log3.txt did not arrive within 10 s").
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from bot.conversation import pdf as pdf_reader
from bot.conversation.attachments import Attachment, FetchRefused, FileLimits
from moa.config.schema import MoaConfig
from moa.durations import told
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


@dataclass(frozen=True)
class _Read:
    """One file's outcome before the token budget is shared out: its text, an image, or why not."""

    text: str | None = None
    image: Image | None = None
    why: str | None = None  # not read, and why
    note: str | None = None  # read in part, and why (a PDF stopped early)


async def read_attachments(attachments: Sequence[Attachment], limits: FileLimits) -> Reading:
    """Download and read what can be read, within the limits; never raises for a file's sake.

    Downloads run in parallel within one budget (`download_budget_s`), PDFs are parsed in parallel in
    worker processes within `read_budget_s` each: a mention's files cost at most the two budgets."""
    outcomes: list[_Read] = []
    wanted: dict[int, Attachment] = {}
    for index, attachment in enumerate(attachments):
        why = _refused_before_download(index, attachment, limits)
        outcomes.append(_Read(why=why))
        if why is None:
            wanted[index] = attachment
    downloaded = await _download_all(wanted, limits)
    reads = [_read_one(attachment, downloaded[index], limits) for index, attachment in wanted.items()]
    for index, outcome in zip(wanted, await asyncio.gather(*reads), strict=True):
        outcomes[index] = outcome
    return _share_out(attachments, outcomes, limits)


def _refused_before_download(index: int, attachment: Attachment, limits: FileLimits) -> str | None:
    if index >= limits.max_count:
        return f"only the first {limits.max_count} files of a message are read (MOA_FILE_MAX_COUNT)"
    kind = kind_of(attachment)
    if kind == "archive":
        return "it is an archive; I don't open archives"
    if kind == "binary":
        return f"it is not text, a PDF or an image ({attachment.mimetype or 'unknown type'})"
    if attachment.size is not None and attachment.size > limits.max_bytes:
        return (f"it is {_megabytes(attachment.size)}, over the {_megabytes(limits.max_bytes)} limit "
                "(MOA_FILE_MAX_BYTES)")
    return None


async def _download_all(wanted: dict[int, Attachment], limits: FileLimits) -> dict[int, bytes | str]:
    """Each wanted file's bytes, or why it did not come; all at once, within one budget."""
    if not wanted:
        return {}
    tasks = {index: asyncio.create_task(_download(a, limits.max_bytes)) for index, a in wanted.items()}
    late: set[asyncio.Task[bytes | str]] = set(tasks.values())
    try:
        _, late = await asyncio.wait(tasks.values(), timeout=limits.download_budget_s)
    finally:  # over budget, or the answer itself cancelled (shutdown): no download outlives it
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    return {index: task.result() if task not in late
            else f"it did not arrive within {told(limits.download_budget_s)}"
            for index, task in tasks.items()}


async def _download(attachment: Attachment, max_bytes: int) -> bytes | str:
    try:
        data = await attachment.fetch(max_bytes)
    except FetchRefused as err:
        return str(err).rstrip(".")
    except Exception as err:  # a failed download costs that file, never the answer
        log.warning("downloading %s failed", attachment.name, exc_info=True)
        return f"the download failed ({type(err).__name__})"
    if len(data) > max_bytes:
        return f"it is over the {_megabytes(max_bytes)} limit (MOA_FILE_MAX_BYTES)"
    return data


async def _read_one(attachment: Attachment, data: bytes | str, limits: FileLimits) -> _Read:
    if isinstance(data, str):
        return _Read(why=data)
    kind = kind_of(attachment)
    name = attachment.name or "a file"
    if kind == "image":
        if len(data) > limits.max_image_bytes:
            return _Read(why=f"images over {_megabytes(limits.max_image_bytes)} are not sent to models")
        return _Read(image=Image(name, attachment.mimetype.split(";")[0].strip().lower(), data))
    if kind == "pdf":
        return await _read_pdf(name, data, limits)
    text = decode_text(data)
    return _Read(why="it is not UTF-8 text") if text is None else _Read(text=text)


async def _read_pdf(name: str, data: bytes, limits: FileLimits) -> _Read:
    try:
        pdf = await pdf_reader.read_pdf(data, max(1, limits.max_tokens) * 4, limits.read_budget_s)
    except ValueError as err:
        return _Read(why=str(err))
    except Exception as err:  # the worker could not be started: that file is not read, the answer goes on
        log.warning("reading the PDF %s failed", name, exc_info=True)
        return _Read(why=f"it could not be read ({type(err).__name__})")
    budget = told(limits.read_budget_s)
    if pdf.stopped == "time":
        if not pdf.pages_read:
            return _Read(why=f"reading it took longer than {budget} and no page was finished")
        return _Read(text=pdf.text, note=f"I read the first {pdf.pages_read} of {pdf.pages} pages of {name} "
                                         f"(it took too long: the rest did not fit in {budget}).")
    if pdf.stopped == "memory":
        if not pdf.pages_read:
            return _Read(why=f"reading it needed more than {pdf_reader.PDF_MEMORY_BYTES // 2**20} MB")
        return _Read(text=pdf.text, note=f"I read the first {pdf.pages_read} of {pdf.pages} pages of {name} "
                                         "(the rest needed more memory than a file may use).")
    if pdf.stopped == "crashed":
        if not pdf.pages_read:
            return _Read(why="the PDF reader stopped before finishing a page")
        return _Read(text=pdf.text, note=f"I read the first {pdf.pages_read} of {pdf.pages} pages of {name} "
                                         "(the PDF reader stopped there).")
    if pdf.stopped == "full" and pdf.pages_read < pdf.pages:
        return _Read(text=pdf.text, note=f"I read the first {pdf.pages_read} of {pdf.pages} pages of {name}: "
                                         f"they fill the {limits.max_tokens:,} tokens allowed for files "
                                         "(MOA_FILE_MAX_TOKENS).")
    return _Read(text=pdf.text)


def _share_out(attachments: Sequence[Attachment], outcomes: Sequence[_Read], limits: FileLimits) -> Reading:
    """The files' text within MOA_FILE_MAX_TOKENS, in the order they were attached."""
    texts: list[tuple[str, str]] = []
    images: list[Image] = []
    unread: list[tuple[str, str]] = []
    trimmed: list[str] = []
    room = limits.max_tokens
    for attachment, outcome in zip(attachments, outcomes, strict=True):
        name = attachment.name or "a file"
        if outcome.why is not None:
            unread.append((name, outcome.why))
            continue
        if outcome.image is not None:
            images.append(outcome.image)
            continue
        text = (outcome.text or "").replace("\r\n", "\n").strip()
        if room <= 0:
            unread.append((name, f"the files before it used all {limits.max_tokens:,} tokens allowed for "
                                 "files (MOA_FILE_MAX_TOKENS)"))
            continue
        if outcome.note:
            trimmed.append(outcome.note)
        tokens = text_tokens(text)
        if tokens > room:
            text = text[:max(1, len(text) * room // tokens)].rstrip() + "\n[… the rest was cut]"
            if not outcome.note:
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
