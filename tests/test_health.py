"""`/healthz`: 200 with queue counts when the database takes writes; 503 with the reason otherwise."""

from __future__ import annotations

import aiohttp

from bot.store.sqlite import SqliteStore
from tests.conftest import Server


async def _get(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.json()


async def test_healthz_is_ok_with_queue_counts(server: Server) -> None:
    status, body = await _get(server.url + "/healthz")
    assert status == 200
    assert body == {"status": "ok", "queued": 0, "running": 0}


async def test_healthz_is_503_when_the_database_refuses_writes(server: Server) -> None:
    store = server.runtime.store
    assert isinstance(store, SqliteStore)
    db = store._db
    # What SQLite does for a read-only file or mount; works even for root, unlike chmod.
    await db.execute("PRAGMA query_only = ON")
    status, body = await _get(server.url + "/healthz")
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("database: ")
    assert "readonly" in body["reason"]

    await db.execute("PRAGMA query_only = OFF")  # and it recovers
    status, body = await _get(server.url + "/healthz")
    assert status == 200


async def test_healthz_is_503_when_the_database_connection_is_gone(server: Server) -> None:
    await server.runtime.store.close()
    status, body = await _get(server.url + "/healthz")
    assert status == 503
    assert body["reason"].startswith("database: ")
