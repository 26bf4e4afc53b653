from __future__ import annotations

import asyncio

from storage import Database
from storage.event_keys import PURGE_EVERY


async def test_retried_event_is_claimed_only_once(db: Database) -> None:
    assert await db.event_keys.claim("slack:Ev01", now=1000.0) is True
    assert await db.event_keys.claim("slack:Ev01", now=1001.0) is False
    assert await db.event_keys.claim("slack:Ev02", now=1001.0) is True


async def test_concurrent_duplicate_deliveries_get_one_winner(db: Database) -> None:
    results = await asyncio.gather(*(db.event_keys.claim("slack:Ev01") for _ in range(20)))

    assert results.count(True) == 1


async def test_claim_survives_restart(db_target: str) -> None:
    first = await Database.open(db_target)
    assert await first.event_keys.claim("slack:Ev01")
    await first.close()

    second = await Database.open(db_target)
    try:
        assert await second.event_keys.claim("slack:Ev01") is False
    finally:
        await second.close()


async def test_key_can_be_claimed_again_after_expiry(db: Database) -> None:
    assert await db.event_keys.claim("slack:Ev01", ttl_s=60, now=1000.0)
    assert not await db.event_keys.claim("slack:Ev01", ttl_s=60, now=1059.0)

    assert await db.event_keys.claim("slack:Ev01", ttl_s=60, now=1060.0)
    assert not await db.event_keys.claim("slack:Ev01", ttl_s=60, now=1061.0)


async def test_expired_keys_are_purged_as_claims_go_by(db: Database) -> None:
    for i in range(10):
        await db.event_keys.claim(f"old-{i}", ttl_s=1, now=1000.0)

    for i in range(PURGE_EVERY):
        await db.event_keys.claim(f"new-{i}", ttl_s=3600, now=2000.0)

    assert await db.event_keys.purge(now=2000.0) == 0  # the old ones are already gone
    assert not await db.event_keys.claim("new-0", now=2001.0)
