"""SQLite backend of the store and of the local job journal (embedded mode).

One aiosqlite connection in WAL mode: writes are serialised on its thread, which
is what SQLite wants anyway, and a commit is durable before a handler acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.jobs.spec import Job, JobState
from bot.store.base import ChannelSettings, JobRecord, ThreadTranscript

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
    started_at REAL
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
    PRIMARY KEY (channel_id, thread_ts)
);
"""

_SETTING_COLUMNS = ("auto_transcribe", "language", "translate_to")

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

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> SqliteDatabase:
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (what kill -9 does); only an OS
        # crash could lose the last commits.
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.executescript(_SCHEMA)
        return cls(conn)

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


class SqliteStore:
    """`bot.store.base.Store` on SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def ping(self) -> None:
        await self._db.probe_write()

    async def get_channel_settings(self, channel_id: str) -> ChannelSettings:
        row = await self._db.fetchone(
            "SELECT auto_transcribe, language, translate_to FROM channel_settings "
            "WHERE channel_id = ?",
            (channel_id,),
        )
        return _settings_from_row(row)

    async def update_channel_settings(self, channel_id: str, **changes: object) -> ChannelSettings:
        unknown = set(changes) - set(_SETTING_COLUMNS)
        if unknown:
            raise ValueError(f"unknown channel settings: {sorted(unknown)}")
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT OR IGNORE INTO channel_settings(channel_id) VALUES (?)", (channel_id,)
            )
            for column, value in changes.items():
                # Column names come from the fixed tuple above, never from users.
                await tx.execute(
                    f"UPDATE channel_settings SET {column} = ? WHERE channel_id = ?",  # noqa: S608
                    (value, channel_id),
                )
            row = await tx.fetchone(
                "SELECT auto_transcribe, language, translate_to FROM channel_settings "
                "WHERE channel_id = ?",
                (channel_id,),
            )
        return _settings_from_row(row)

    async def get_vocabulary(self, channel_id: str) -> list[str]:
        rows = await self._db.fetchall(
            "SELECT term FROM channel_vocabulary WHERE channel_id = ? ORDER BY added_at, term",
            (channel_id,),
        )
        return [str(r[0]) for r in rows]

    async def add_vocabulary(self, channel_id: str, terms: list[str]) -> list[str]:
        now = time.time()
        async with self._db.transaction() as tx:
            for i, term in enumerate(terms):
                await tx.execute(
                    "INSERT OR IGNORE INTO channel_vocabulary(channel_id, folded, term, added_at) "
                    "VALUES (?, ?, ?, ?)",
                    (channel_id, term.casefold(), term, now + i * 1e-6),
                )
        return await self.get_vocabulary(channel_id)

    async def remove_vocabulary(self, channel_id: str, term: str) -> str | None:
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT term FROM channel_vocabulary WHERE channel_id = ? AND folded = ?",
                (channel_id, term.casefold()),
            )
            if row is None:
                return None
            await tx.execute(
                "DELETE FROM channel_vocabulary WHERE channel_id = ? AND folded = ?",
                (channel_id, term.casefold()),
            )
        return str(row[0])

    async def get_job(self, job_id: str) -> JobRecord | None:
        row = await self._db.fetchone(
            "SELECT spec, state, attempts, last_error, reply_ts FROM jobs WHERE id = ?", (job_id,)
        )
        return None if row is None else job_record_from_row(row)

    async def record_reply(self, job_id: str, reply_ts: str) -> None:
        await self._db.execute(
            "UPDATE jobs SET reply_ts = ?, updated_at = ? WHERE id = ?",
            (reply_ts, time.time(), job_id),
        )

    async def get_cached_transcript(self, key: str) -> tuple[str, float] | None:
        row = await self._db.fetchone(
            "SELECT transcript, duration_s FROM transcripts WHERE cache_key = ?", (key,)
        )
        return None if row is None else (str(row[0]), float(row[1]))

    async def cache_transcript(self, key: str, transcript_json: str, duration_s: float) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO transcripts(cache_key, transcript, duration_s, created_at) "
            "VALUES (?, ?, ?, ?)",
            (key, transcript_json, duration_s, time.time()),
        )

    async def link_thread(
        self, channel_id: str, thread_ts: str, file_id: str, cache_key: str
    ) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO threads(channel_id, thread_ts, file_id, cache_key, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (channel_id, thread_ts, file_id, cache_key, time.time()),
        )

    async def thread_transcript(self, channel_id: str, thread_ts: str) -> ThreadTranscript | None:
        row = await self._db.fetchone(
            "SELECT t.file_id, c.transcript, c.duration_s FROM threads t "
            "JOIN transcripts c ON c.cache_key = t.cache_key "
            "WHERE t.channel_id = ? AND t.thread_ts = ?",
            (channel_id, thread_ts),
        )
        if row is None:
            return None
        return ThreadTranscript(
            file_id=str(row[0]), transcript_json=str(row[1]), duration_s=float(row[2])
        )

    async def purge(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        removed = 0
        async with self._db.transaction() as tx:
            for sql in (
                "DELETE FROM jobs WHERE state IN ('done', 'failed') AND updated_at < ?",
                "DELETE FROM transcripts WHERE created_at < ?",
                "DELETE FROM threads WHERE created_at < ?",
            ):
                removed += await tx.execute(sql, (cutoff,))
        return removed

    async def close(self) -> None:
        await self._db.close()


def _settings_from_row(row: Row | None) -> ChannelSettings:
    if row is None:
        return ChannelSettings()
    auto = None if row[0] is None else bool(row[0])
    return ChannelSettings(auto_transcribe=auto, language=row[1], translate_to=row[2])


def job_record_from_row(row: Row) -> JobRecord:
    spec, state, attempts, last_error, reply_ts = row
    return JobRecord(
        job=Job.model_validate_json(str(spec)),
        state=_state(state),
        attempts=int(str(attempts)),
        last_error=None if last_error is None else str(last_error),
        reply_ts=None if reply_ts is None else str(reply_ts),
    )


def _state(value: object) -> JobState:
    states: tuple[JobState, ...] = ("queued", "running", "done", "failed")
    for s in states:
        if value == s:
            return s
    raise ValueError(f"unknown job state {value!r}")


def dumps(job: Job) -> str:
    return json.dumps(job.model_dump(mode="json"), separators=(",", ":"))
