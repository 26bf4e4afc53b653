"""Storage faults never cost an answer: a full disk, a lock held by another program, unencodable text.

Real SQLite on a real (tiny) file system, the real groq SDK against the fake Groq.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.conversation.attachments import Attachment
from bot.conversation.service import INTERRUPTED, CommandContext, ConversationService
from storage import Database, DatabaseInUse, StorageError
from storage.errors import StorageFailure
from tests.bot.conversation.helpers import GENERAL, RecordingSurface, admin, mention, settings_for
from tests.fakes.groq_server import FakeGroq
from tests.faults import SmallDisk, lock_held, run_rows


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeGroq]:
    async with FakeGroq() as server:
        yield server


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with SmallDisk(tmp_path / "disk") as small:
        yield small


def _answered_with_storage_warning(surface: RecordingSurface) -> str:
    assert surface.final is not None, surface.failure
    warnings = " ".join(surface.final.warnings)
    assert "could not be saved" in warnings
    return warnings


async def test_an_answer_is_delivered_when_the_disk_fills_while_it_is_written(
        fake: FakeGroq, disk: SmallDisk) -> None:
    service = await ConversationService.create(settings_for(fake, disk.path / "moa.db"))
    try:
        fake.latency = 0.2
        surface = RecordingSurface()
        answering = service.handle_mention(mention("will the disk hold?"), surface)
        task = asyncio.create_task(answering)
        await fake.wait_for(lambda f: len(f.calls) >= 1)
        disk.fill()
        await asyncio.wait_for(task, 20)

        assert surface.final is not None and "says: will the disk hold?" in surface.final.text
        assert "the disk is full" in _answered_with_storage_warning(surface)
        assert surface.final.run_id is None  # no Show layers button for layers that were not kept
    finally:
        disk.free()
        await service.aclose()
    # Once space is back, the outcome is stored: a restart will not mistake it for a cut-off question.
    assert [status for _, status, _ in run_rows(disk.path / "moa.db")] == ["done"]


async def test_a_mention_that_arrives_while_the_disk_is_full_is_still_answered(
        fake: FakeGroq, disk: SmallDisk) -> None:
    service = await ConversationService.create(settings_for(fake, disk.path / "moa.db"))
    try:
        disk.fill()
        assert await service.claim_event("slack:event:Ev1")  # deduplication falls back to memory
        assert not await service.claim_event("slack:event:Ev1")
        surface = RecordingSurface()
        await service.handle_mention(mention("anyone there?"), surface)

        assert surface.final is not None and "says: anyone there?" in surface.final.text
        _answered_with_storage_warning(surface)
        assert surface.failure is None
    finally:
        disk.free()
        await service.aclose()


async def test_an_answer_is_delivered_while_another_program_holds_the_database_lock(
        fake: FakeGroq, tmp_path: Path) -> None:
    db = tmp_path / "moa.db"
    service = await ConversationService.create(settings_for(fake, db))
    try:
        async with lock_held(db):
            surface = RecordingSurface()
            await service.handle_mention(mention("is the lock a problem?"), surface)
        assert surface.final is not None and "says: is the lock a problem?" in surface.final.text
        assert "lock" in _answered_with_storage_warning(surface)

        after = RecordingSurface()  # the lock is gone: the next answer is kept whole again
        run_id = await service.handle_mention(mention("and now?", message_id="m2"), after)
        assert after.final is not None and after.final.warnings == () and after.final.run_id == run_id
        run = await service.reveal_layers(GENERAL, run_id=run_id)
        assert run is not None and run.status == "done" and len(run.layers()) == 3
    finally:
        await service.aclose()


async def test_a_question_with_a_lone_surrogate_is_answered_and_stored(fake: FakeGroq, tmp_path: Path) -> None:
    service = await ConversationService.create(settings_for(fake, tmp_path / "moa.db"))
    try:
        surface = RecordingSurface()
        run_id = await service.handle_mention(mention("what is \ud800 this?"), surface)

        assert surface.final is not None and surface.final.warnings == ()
        assert "what is \ufffd this?" in surface.final.text
        run = await service.reveal_layers(GENERAL, run_id=run_id)
        assert run is not None and run.status == "done" and run.question == "what is \ufffd this?"
    finally:
        await service.aclose()


async def _one_running_one_queued(service: ConversationService, fake: FakeGroq) -> tuple[
        asyncio.Task[int | None], asyncio.Task[int | None], RecordingSurface]:
    """Two questions in one channel: the first holds its only slot, the second waits (shown queued)."""
    second = RecordingSurface()
    running = asyncio.create_task(service.handle_mention(mention("first", message_id="m1"), RecordingSurface()))
    await fake.wait_for(lambda f: len(f.calls) >= 1)
    waiting = asyncio.create_task(service.handle_mention(mention("second", message_id="m2"), second))
    await second.wait_for(lambda s: any(p.queued_ahead is not None for _, p in s.progress))
    return running, waiting, second


async def test_each_question_is_recorded_as_queued_before_it_waits_for_a_slot(
        fake: FakeGroq, tmp_path: Path) -> None:
    db = tmp_path / "moa.db"
    service = await ConversationService.create(settings_for(fake, db))
    try:
        fake.latency = 0.3
        running, waiting, _ = await _one_running_one_queued(service, fake)

        rows = run_rows(db)
        assert [status for _, status, _ in rows] == ["running", "queued"]
        assert {owner for _, _, owner in rows} == {service.db.owner}
        await asyncio.gather(running, waiting)
        assert [status for _, status, _ in run_rows(db)] == ["done", "done"]
    finally:
        await service.aclose()


async def test_a_database_in_use_by_a_live_process_refuses_a_second_opener(tmp_path: Path) -> None:
    first = await Database.open(tmp_path / "moa.db")
    try:
        with pytest.raises(DatabaseInUse, match="already using the database"):
            await Database.open(tmp_path / "moa.db")
    finally:
        await first.close()
    second = await Database.open(tmp_path / "moa.db")  # closing gave the file up
    await second.close()


async def test_a_question_still_queued_at_shutdown_is_told_and_recorded_as_interrupted(
        fake: FakeGroq, tmp_path: Path) -> None:
    db = tmp_path / "moa.db"
    service = await ConversationService.create(settings_for(fake, db))
    try:
        fake.latency = 5.0
        running, waiting, second = await _one_running_one_queued(service, fake)

        await service.drain(grace_s=0.1)  # SIGTERM, and the grace period runs out
        await asyncio.gather(running, waiting, return_exceptions=True)
        assert second.failure == INTERRUPTED  # the "queued" status is replaced, not left waiting forever
        assert [status for _, status, _ in run_rows(db)] == ["interrupted", "interrupted"]
    finally:
        await service.aclose()


async def test_a_command_while_the_disk_is_full_says_so_and_changes_nothing(
        fake: FakeGroq, disk: SmallDisk) -> None:
    service = await ConversationService.create(settings_for(fake, disk.path / "moa.db"))
    try:
        disk.fill()
        reply = await service.run_command(CommandContext(GENERAL, "U1", admin), "layers 2")
        assert not reply.changed and "disk is full" in reply.text and "nothing changed" in reply.text
        disk.free()
        shown = await service.run_command(CommandContext(GENERAL, "U1", admin), "show")
        assert "• Layers: 3\n" in shown.text
    finally:
        disk.free()
        await service.aclose()


async def test_layers_asked_for_while_storage_is_damaged_get_a_sentence(
        fake: FakeGroq, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = await ConversationService.create(settings_for(fake, tmp_path / "moa.db"))
    try:
        async def damaged(*args: object) -> None:  # a unit seam: real damage is not reproducible on demand
            raise StorageFailure("damaged", "database disk image is malformed")

        monkeypatch.setattr(service.db.runs, "get", damaged)
        with pytest.raises(StorageError, match=r"damaged.*try again"):
            await service.reveal_layers(GENERAL, run_id=1)
    finally:
        await service.aclose()


async def test_a_bug_while_saving_is_not_called_a_storage_failure_and_is_logged_with_its_traceback(
        fake: FakeGroq, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    service = await ConversationService.create(settings_for(fake, tmp_path / "moa.db"))
    try:
        async def buggy(*args: object, **kwargs: object) -> bool:  # a unit seam: a programming error
            raise TypeError("finish() got an unexpected keyword argument")

        monkeypatch.setattr(service.db.runs, "finish", buggy)
        surface = RecordingSurface()
        await service.handle_mention(mention("is this a storage failure?"), surface)
    finally:
        await service.aclose()

    assert surface.final is not None and "says: is this a storage failure?" in surface.final.text
    warnings = " ".join(surface.final.warnings)
    assert "Something unexpected went wrong while saving this answer" in warnings
    assert "Storage failed" not in warnings and "TypeError" not in warnings
    [logged] = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], TypeError)]
    assert "saving the run" in logged.getMessage()


async def test_a_bug_while_reading_the_config_is_told_as_unexpected_not_as_storage(
        fake: FakeGroq, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = await ConversationService.create(settings_for(fake, tmp_path / "moa.db"))
    try:
        async def buggy(*args: object) -> None:  # a unit seam: a programming error in a read
            raise TypeError("effective() takes 2 positional arguments but 3 were given")

        monkeypatch.setattr(service.db.configs, "effective", buggy)
        surface = RecordingSurface()
        await service.handle_mention(mention("which setup?"), surface)
    finally:
        await service.aclose()

    assert surface.final is not None and "says: which setup?" in surface.final.text
    assert ("Something unexpected went wrong, so this answer used the default setup, not this channel's."
            in surface.final.warnings)
    assert not any("Storage failed" in w or "TypeError" in w for w in surface.final.warnings)


async def test_a_surprise_while_reading_a_file_is_a_sentence_not_a_frozen_status(
        fake: FakeGroq, tmp_path: Path) -> None:
    """Files are read before the answer takes its turn; whatever goes wrong there still ends the answer."""
    async def fetch(limit: int) -> bytes:
        return b"never read"

    service = await ConversationService.create(settings_for(fake, tmp_path / "moa.db"))
    try:
        surface = RecordingSurface()
        odd = Attachment("notes.txt", "text/plain", "twelve", fetch)  # type: ignore[arg-type]  # a platform's odd size
        asked = mention("what do my notes say?")
        await asyncio.wait_for(service.handle_mention(type(asked)(**{**asked.__dict__, "attachments": (odd,)}),
                                                      surface), 20)

        assert surface.final is None and surface.failure is not None  # told, in a sentence
        assert "Traceback" not in surface.failure
        assert fake.calls == []  # no model call for an answer that could not be read
        [(_, status, _)] = run_rows(tmp_path / "moa.db")
        assert status == "failed"  # not left queued for a restart to answer again
    finally:
        await service.aclose()
