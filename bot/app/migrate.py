"""`moa-bot migrate --to postgresql://…`: copy the SQLite database into PostgreSQL and say what was copied."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.settings import Settings
from storage.db import Database
from storage.postgres import is_postgres_url, redacted
from storage.transfer import copy_sqlite_to_postgres


def migrate(settings: Settings, to: str | None, source: str | None) -> int:
    """Copy `source` (default MOA_DB_PATH) into `to` (default MOA_DATABASE_URL); 0 on success, 2 on bad input."""
    url = (to or settings.database_url).strip()
    path = Path(source or settings.db_path)
    if not is_postgres_url(url):
        print("moa-bot migrate needs the PostgreSQL database to copy into: --to postgresql://user:password@host/db "
              "(or MOA_DATABASE_URL).", file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"There is no SQLite database at {path} to copy (MOA_DB_PATH, or --from FILE).", file=sys.stderr)
        return 2
    return asyncio.run(_copy(path, url))


async def _copy(path: Path, url: str) -> int:
    sqlite = await Database.open(path)
    try:
        pg = await Database.open(url)
        try:
            report = await copy_sqlite_to_postgres(sqlite, pg)
        finally:
            await pg.close()
    finally:
        await sqlite.close()
    print(f"Copied {path} into {redacted(url)}:")
    width = max((len(item.table) for item in report), default=0)
    for item in report:
        there = item.in_source - item.copied
        note = f" ({there:,} already there)" if there else ""
        print(f"  {item.table:<{width}}  {item.copied:>8,} copied{note}")
    copied = sum(item.copied for item in report)
    print(f"{copied:,} rows copied; running it again copies nothing twice.")
    return 0
