"""What the models get from the files people bring: read, trimmed, or named — never a lost answer."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.conversation import pdf
from bot.conversation.attachments import Attachment, FetchRefused, FileLimits
from bot.conversation.reading import read_attachments
from moa.messages.attachments import Shown
from tests.fakes.files import locked_pdf, pdf_pages, pdf_with_text, slow_pdf, tiny_png


def served(name: str, mimetype: str, data: bytes, fetched: list[str] | None = None,
           size: int | None = None) -> Attachment:
    async def fetch(max_bytes: int) -> bytes:
        if fetched is not None:
            fetched.append(name)
        return data[:max_bytes + 1]
    return Attachment(name, mimetype, len(data) if size is None else size, fetch)


async def test_text_code_and_pdf_reach_the_question_by_name() -> None:
    reading = await read_attachments([
        served("notes.md", "text/markdown", b"# Plan\nship on **Friday**"),
        served("data.csv", "text/csv", b"city,people\nOslo,709000\n"),
        served("report.pdf", "application/pdf", pdf_with_text("Revenue rose 12 percent")),
    ], FileLimits())
    question = reading.question("What do these say?")
    assert question.startswith("What do these say?")
    assert "--- file notes.md ---\n# Plan\nship on **Friday**" in question
    assert "Oslo,709000" in question
    assert "Revenue rose 12 percent" in question
    assert reading.notes(["openai/gpt-oss-20b"]) == ()


async def test_long_text_is_trimmed_to_the_token_limit_with_a_note() -> None:
    log = ("GET /health 200\n" * 2000).encode()
    reading = await read_attachments([served("app.log", "text/plain", log)], FileLimits(max_tokens=100))
    (_, text), = reading.texts
    assert len(text) < 500 and text.endswith("[… the rest was cut]")
    assert any("app.log" in note and "MOA_FILE_MAX_TOKENS" in note for note in reading.notes([]))


async def test_unreadable_files_are_named_and_told_to_the_models() -> None:
    reading = await read_attachments([
        served("backup.zip", "application/zip", b"PK\x03\x04junk"),
        served("program.exe", "application/octet-stream", b"MZ\x00\x00\x90"),
        served("latin.txt", "text/plain", bytes(range(128, 256)) * 4),
        served("broken.pdf", "application/pdf", b"%PDF-1.4 not really"),
    ], FileLimits())
    notes = " ".join(reading.notes([]))
    for name in ("backup.zip", "program.exe", "latin.txt", "broken.pdf"):
        assert f"I could not read {name}" in notes
    assert "archive" in notes
    assert "not readable here: backup.zip" in reading.question("Q")


async def test_a_file_over_the_size_limit_is_refused_before_download() -> None:
    fetched: list[str] = []
    reading = await read_attachments([served("huge.txt", "text/plain", b"x", fetched, size=50_000_000)],
                                     FileLimits(max_bytes=1_000_000))
    assert fetched == []
    assert reading.notes([]) == (
        "I could not read huge.txt: it is 50.0 MB, over the 1.0 MB limit (MOA_FILE_MAX_BYTES).",)


async def test_a_refused_download_costs_only_that_file() -> None:
    async def refuse(max_bytes: int) -> bytes:
        raise FetchRefused("Slack answered a login page instead of the file.")
    reading = await read_attachments([Attachment("secret.txt", "text/plain", 10, refuse),
                                      served("ok.txt", "text/plain", b"fine")], FileLimits())
    assert [name for name, _ in reading.texts] == ["ok.txt"]
    assert "I could not read secret.txt: Slack answered a login page instead of the file." in reading.notes([])


async def test_files_beyond_the_count_are_named() -> None:
    files = [served(f"f{i}.txt", "text/plain", b"hi") for i in range(3)]
    reading = await read_attachments(files, FileLimits(max_count=2))
    assert [name for name, _ in reading.texts] == ["f0.txt", "f1.txt"]
    assert any("f2.txt" in note and "MOA_FILE_MAX_COUNT" in note for note in reading.notes([]))


async def test_images_go_as_parts_to_readers_and_by_name_to_the_rest() -> None:
    reading = await read_attachments([served("photo.png", "image/png", tiny_png())],
                                     FileLimits(vision_models=frozenset({"local:llava"})))
    shown: Shown = reading.shown
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "What is this?"}]
    seen = shown.messages_for("local:llava", messages)[-1]["content"]
    assert seen[0] == {"type": "text", "text": "What is this?"}
    assert seen[1]["image_url"]["url"].startswith("data:image/png;base64,")
    blind = shown.messages_for("openai/gpt-oss-20b", messages)[-1]["content"]
    assert isinstance(blind, str) and "photo.png" in blind
    assert reading.notes(["local:llava", "openai/gpt-oss-20b"]) == (
        "photo.png was not shown to openai/gpt-oss-20b, which reads no images.",)


def pdf_workers() -> list[int]:
    """This process's PDF worker processes still alive (their command line names pdf_worker.py)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and b"pdf_worker.py" in command and stat[0] != "Z":
            alive.append(int(entry.name))
    return alive


async def test_a_pdf_with_only_an_owner_password_is_read() -> None:
    reading = await read_attachments([served("terms.pdf", "application/pdf", locked_pdf("Notice period is 3 months"))],
                                     FileLimits())
    assert "Notice period is 3 months" in reading.question("Q")
    assert reading.notes([]) == ()


async def test_a_pdf_that_needs_a_password_to_open_is_named_as_password_protected() -> None:
    reading = await read_attachments([served("payroll.pdf", "application/pdf",
                                             locked_pdf("salaries", user_password="open-sesame"))], FileLimits())
    assert reading.notes([]) == ("I could not read payroll.pdf: it is password-protected.",)


async def test_a_slow_pdf_is_read_as_far_as_its_budget_allows_and_its_worker_is_stopped() -> None:
    reading = await read_attachments([served("report.pdf", "application/pdf", slow_pdf(pages=15))],
                                     FileLimits(read_budget_s=2.5))
    question = reading.question("Q")
    assert "page 1" in question and "page 15" not in question
    [note] = reading.notes([])
    read = int(note.removeprefix("I read the first ").split()[0])
    assert 1 <= read < 15
    assert note == (f"I read the first {read} of 15 pages of report.pdf (it took too long: the rest did not fit "
                    "in 2.5 s).")
    assert pdf_workers() == []  # stopped, not left parsing in the background


async def test_pdfs_wait_for_a_free_worker_within_their_own_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading happens before an answer takes its turn: a burst of PDFs shares the process's workers."""
    monkeypatch.setattr(pdf, "WORKERS", pdf.WorkerSlots(1))
    first, second = await asyncio.gather(*(
        read_attachments([served(name, "application/pdf", slow_pdf(pages=15))], FileLimits(read_budget_s=2.0))
        for name in ("a.pdf", "b.pdf")))
    notes = sorted((*first.notes([]), *second.notes([])))
    # one worker at a time: the PDF that got it read some pages; the other waited its whole budget for it
    assert notes[0].startswith("I could not read ") and notes[0].endswith(
        ": reading it took longer than 2.0 s and no page was finished.")
    assert notes[1].startswith("I read the first ")
    assert pdf_workers() == []


async def test_a_long_pdf_is_parsed_only_as_far_as_the_file_token_limit() -> None:
    pages = [f"BT /F1 12 Tf 72 720 Td (page {n} {'words ' * 60}) Tj ET".encode() for n in range(1, 41)]
    reading = await read_attachments([served("book.pdf", "application/pdf", pdf_pages(pages))],
                                     FileLimits(max_tokens=200))
    [note] = reading.notes([])
    assert note.startswith("I read the first ") and "of 40 pages of book.pdf: they fill the 200 tokens" in note
    assert "page 40" not in reading.question("Q")


async def test_stalled_downloads_are_given_up_together_after_one_budget_and_named() -> None:
    never = asyncio.Event()

    def stalled(name: str) -> Attachment:
        async def fetch(max_bytes: int) -> bytes:
            await never.wait()  # the headers came, the body never does
            return b""
        return Attachment(name, "text/plain", None, fetch)

    files = [stalled(f"log{i}.txt") for i in range(1, 5)] + [served("ok.txt", "text/plain", b"all good")]
    reading = await read_attachments(files, FileLimits(download_budget_s=0.5))
    assert [name for name, _ in reading.texts] == ["ok.txt"]
    assert reading.notes([]) == tuple(f"I could not read log{i}.txt: it did not arrive within 0.5 s."
                                      for i in range(1, 5))


async def test_a_pdf_that_needs_more_memory_than_a_worker_may_use_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "PDF_MEMORY_BYTES", 100 * 1024 * 1024)
    # 59 KB that inflate to a 60 MB content stream: pypdf starts within 100 MB, the page does not fit.
    bomb = pdf_pages([b"BT /F1 12 Tf 72 720 Td (hello) Tj ET\n" + b" " * 60_000_000], compress=True)
    reading = await read_attachments([served("scan.pdf", "application/pdf", bomb)], FileLimits())
    assert reading.notes([]) == ("I could not read scan.pdf: reading it needed more than 100 MB.",)
    assert pdf_workers() == []


async def test_cancelling_a_reading_cancels_its_downloads() -> None:
    started, never = asyncio.Event(), asyncio.Event()
    cancelled: list[str] = []

    async def fetch(max_bytes: int) -> bytes:
        started.set()
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append("big.log")
            raise
        return b""

    reading = asyncio.create_task(read_attachments([Attachment("big.log", "text/plain", None, fetch)],
                                                   FileLimits(download_budget_s=60)))
    await started.wait()
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert cancelled == ["big.log"]  # not left downloading after its answer is gone
