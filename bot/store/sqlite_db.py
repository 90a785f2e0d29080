"""The embedded journal's SQLite database: one connection, one owner, the schema.

One aiosqlite connection in WAL mode: writes are serialised on its thread, which
is what SQLite wants anyway, and a commit is durable before a handler acks. The
store (`bot.store.sqlite`) and the local queue (`bot.queue.local`) share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.jobs.spec import Job

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    reply_ts TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    due_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created_at);
CREATE INDEX IF NOT EXISTS jobs_channel_state ON jobs(channel_id, state);
CREATE INDEX IF NOT EXISTS jobs_channel_started ON jobs(channel_id, started_at);
CREATE TABLE IF NOT EXISTS channel_settings (
    channel_id TEXT PRIMARY KEY,
    auto_transcribe INTEGER,
    language TEXT,
    translate_to TEXT
);
CREATE TABLE IF NOT EXISTS channel_vocabulary (
    channel_id TEXT NOT NULL,
    folded TEXT NOT NULL,
    term TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (channel_id, folded)
);
CREATE TABLE IF NOT EXISTS transcripts (
    cache_key TEXT PRIMARY KEY,
    transcript TEXT NOT NULL,
    duration_s REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS threads (
    channel_id TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    file_id TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    created_at REAL NOT NULL,
    job_id TEXT NOT NULL DEFAULT '',
    speaker_names TEXT NOT NULL DEFAULT '{}',
    reply TEXT NOT NULL DEFAULT '',
    exports TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (channel_id, thread_ts)
);
CREATE INDEX IF NOT EXISTS threads_file ON threads(file_id);
"""

#: A thread's link and its transcript (LEFT JOIN: a link outlives a purged cache entry,
#: and must still be found to be deleted).
Params = Sequence[Any] | Mapping[str, Any]
Row = tuple[Any, ...]
T = TypeVar("T")


class SqliteDatabase:
    """The one owner of the SQLite connection; the store and the local queue share it.

    Every statement runs under one lock. aiosqlite already runs statements one at a
    time on its thread, but a transaction spans several awaits: without the lock,
    another coroutine's statement could land inside it and be committed or rolled
    back with it (the health probe once rolled back acknowledged submits that way).
    """

    def __init__(self, conn: aiosqlite.Connection, path: str = "") -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        #: The database file (consumers of the journal lock a file beside it).
        self.path = path

    @classmethod
    async def open(cls, path: str | Path) -> SqliteDatabase:
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (what kill -9 does); only an OS
        # crash could lose the last commits.
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.executescript(_SCHEMA)
        await _add_missing_columns(conn)
        return cls(conn, str(path))

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in its own (autocommit) transaction; returns the rows it changed."""
        return await self._exclusive(lambda conn: _rowcount(conn, sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self._exclusive(lambda conn: _fetchone(conn, sql, params))

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._exclusive(lambda conn: _fetchall(conn, sql, params))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Several statements as one: committed together, or rolled back on any error.

        Cancellation included: a statement already handed to aiosqlite runs anyway, so
        each one is awaited to its end before the lock is let go, and a transaction that
        is open after a failure (its BEGIN ran although its caller gave up) is rolled back.
        """
        async with self._lock:
            try:
                await _shielded(self._conn.execute("BEGIN IMMEDIATE"))
                yield Transaction(self._conn)
            except BaseException:
                if self._conn.in_transaction:
                    await _shielded(self._conn.execute("ROLLBACK"))
                raise
            await _shielded(self._conn.execute("COMMIT"))

    async def probe_write(self) -> None:
        """Raise unless the database grants the write lock; changes nothing."""

        async def probe(conn: aiosqlite.Connection) -> None:
            try:
                await conn.execute("BEGIN IMMEDIATE")
            finally:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")

        await self._exclusive(probe)

    async def _exclusive(self, op: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `op` under the lock and to its end, even when the caller is cancelled.

        aiosqlite runs a statement it was handed whether or not anyone still waits for
        it; letting the lock go before it has run would let its effects (an open
        transaction above all) mix with the next owner's statements.
        """

        async def run() -> T:
            async with self._lock:
                return await op(self._conn)

        return await asyncio.shield(run())

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()


async def _rowcount(conn: aiosqlite.Connection, sql: str, params: Params) -> int:
    cur = await conn.execute(sql, params)
    count = cur.rowcount
    await cur.close()
    return count


async def _fetchone(conn: aiosqlite.Connection, sql: str, params: Params) -> Row | None:
    async with conn.execute(sql, params) as cur:
        row = await cur.fetchone()
    return None if row is None else tuple(row)


async def _fetchall(conn: aiosqlite.Connection, sql: str, params: Params) -> list[Row]:
    async with conn.execute(sql, params) as cur:
        rows = await cur.fetchall()
    return [tuple(r) for r in rows]


class Transaction:
    """Statements inside `SqliteDatabase.transaction()` (the lock is already held)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await _shielded(_rowcount(self._conn, sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await _shielded(_fetchone(self._conn, sql, params))


async def _shielded(op: Awaitable[T]) -> T:
    """Await a statement; if cancelled meanwhile, still wait for it to finish, then re-raise."""
    task = asyncio.ensure_future(op)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


def dumps(job: Job) -> str:
    return json.dumps(job.model_dump(mode="json"), separators=(",", ":"))


#: Columns added after the first release: (table, column, definition). A journal written
#: by an older release gets them at start-up, so its queued jobs still run.
_ADDED_COLUMNS = (
    ("jobs", "due_at", "REAL NOT NULL DEFAULT 0"),
    ("threads", "job_id", "TEXT NOT NULL DEFAULT ''"),
    ("threads", "speaker_names", "TEXT NOT NULL DEFAULT '{}'"),
    ("threads", "reply", "TEXT NOT NULL DEFAULT ''"),
    ("threads", "exports", "TEXT NOT NULL DEFAULT '{}'"),
)


async def _add_missing_columns(conn: aiosqlite.Connection) -> None:
    for table, column, definition in _ADDED_COLUMNS:
        async with conn.execute(f"PRAGMA table_info({table})") as cursor:
            present = {str(row[1]) for row in await cursor.fetchall()}
        if column not in present:
            # Names come from the constant above, never from input.
            try:
                await conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            except sqlite3.OperationalError as exc:
                # Another process (the job process, `check`) added it first.
                if "duplicate column" not in str(exc):
                    raise
