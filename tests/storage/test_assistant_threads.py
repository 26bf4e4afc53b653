"""An assistant thread's context is kept in the database, so another process (a replica) finds it."""

from __future__ import annotations

from storage import Database


async def test_a_saved_context_is_found_and_replaced(db: Database) -> None:
    assert await db.assistant_threads.find("T1", "D1", "1.0") is None
    await db.assistant_threads.save("T1", "D1", "1.0", {"channel_id": "C0GENERAL", "team_id": "T1"})
    await db.assistant_threads.save("T1", "D1", "1.0", {"channel_id": "C0RANDOM", "team_id": "T1"})

    assert await db.assistant_threads.find("T1", "D1", "1.0") == {"channel_id": "C0RANDOM", "team_id": "T1"}
    assert await db.assistant_threads.find("T1", "D1", "2.0") is None
