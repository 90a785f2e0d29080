"""Privacy: a running process deletes transcripts and job records past SCRIBE_RETENTION_DAYS."""

from __future__ import annotations

import asyncio
import time

from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from bot.store.sqlite_db import SqliteDatabase
from tests.conftest import start_server

DAY = 86400.0


async def test_running_server_purges_what_is_past_retention(settings: Settings) -> None:
    db = await SqliteDatabase.open(settings.scribe_db)
    store = SqliteStore(db)
    await store.cache_transcript("F_OLD::", '{"summary": "old", "segments": []}', 5.0)
    await store.cache_transcript("F_NEW::", '{"summary": "new", "segments": []}', 5.0)
    await store.link_thread("C1", "1.0", "F_OLD", "F_OLD::")
    old = time.time() - (settings.scribe_retention_days + 1) * DAY
    await db.execute("UPDATE transcripts SET created_at = ? WHERE cache_key = 'F_OLD::'", (old,))
    await db.execute("UPDATE threads SET created_at = ?", (old,))
    await db.close()

    server = await start_server(settings)
    try:
        runtime_store = server.runtime.store

        async def keys() -> set[str]:
            db = runtime_store._db  # type: ignore[attr-defined]
            return {row[0] for row in await db.fetchall("SELECT cache_key FROM transcripts")}

        # The purge runs as the workers start, then hourly.
        deadline = time.monotonic() + 5
        while "F_OLD::" in (found := await keys()):
            assert time.monotonic() < deadline, "the expired transcript is still there"
            await asyncio.sleep(0.05)
        assert found == {"F_NEW::"}
        assert await runtime_store.thread_transcript("C1", "1.0") is None
    finally:
        await server.runner.cleanup()
