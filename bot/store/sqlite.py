"""SQLite backend of the store (embedded mode), on the database it shares with the queue."""

from __future__ import annotations

import json
import time

from bot.jobs.spec import Job, JobState
from bot.store.base import ChannelSettings, JobRecord, ThreadTranscript, merge_names
from bot.store.sqlite_db import Row, SqliteDatabase

_THREAD_SELECT = (
    "SELECT t.file_id, COALESCE(c.transcript, ''), COALESCE(c.duration_s, 0), t.channel_id, "
    "t.thread_ts, t.cache_key, t.job_id, t.speaker_names, t.reply, t.exports, t.created_at "
    "FROM threads t "
    "LEFT JOIN transcripts c ON c.cache_key = t.cache_key"
)

_SETTING_COLUMNS = ("auto_transcribe", "language", "translate_to")


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
        self,
        channel_id: str,
        thread_ts: str,
        file_id: str,
        cache_key: str,
        job_id: str = "",
        reply: str = "",
    ) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO threads(channel_id, thread_ts, file_id, cache_key, "
            "created_at, job_id, speaker_names, reply, exports) "
            "VALUES (?, ?, ?, ?, ?, ?, '{}', ?, '{}')",
            (channel_id, thread_ts, file_id, cache_key, time.time(), job_id, reply),
        )

    async def thread_transcript(self, channel_id: str, thread_ts: str) -> ThreadTranscript | None:
        rows = await self._db.fetchall(
            _THREAD_SELECT + " WHERE t.channel_id = ? AND t.thread_ts = ?",
            (channel_id, thread_ts),
        )
        # A link whose transcript was purged is no transcript to answer from.
        return _thread_from_row(rows[0]) if rows and rows[0][1] else None

    async def rename_speakers(
        self, channel_id: str, thread_ts: str, names: dict[str, str]
    ) -> dict[str, str] | None:
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT speaker_names FROM threads WHERE channel_id = ? AND thread_ts = ?",
                (channel_id, thread_ts),
            )
            if row is None:
                return None
            merged = merge_names(_names(row[0]), names)
            await tx.execute(
                "UPDATE threads SET speaker_names = ? WHERE channel_id = ? AND thread_ts = ?",
                (json.dumps(merged), channel_id, thread_ts),
            )
        return merged

    async def record_export(
        self, channel_id: str, thread_ts: str, key: str, permalink: str
    ) -> None:
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT exports FROM threads WHERE channel_id = ? AND thread_ts = ?",
                (channel_id, thread_ts),
            )
            if row is None:
                return
            exports = {**_names(row[0]), key: permalink}
            await tx.execute(
                "UPDATE threads SET exports = ? WHERE channel_id = ? AND thread_ts = ?",
                (json.dumps(exports), channel_id, thread_ts),
            )

    async def forget_thread(self, channel_id: str, thread_ts: str) -> ThreadTranscript | None:
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                _THREAD_SELECT + " WHERE t.channel_id = ? AND t.thread_ts = ?",
                (channel_id, thread_ts),
            )
            await tx.execute(
                "DELETE FROM threads WHERE channel_id = ? AND thread_ts = ?",
                (channel_id, thread_ts),
            )
            if row is None:
                return None
            gone = _thread_from_row(row)
            others = await tx.fetchone(
                "SELECT COUNT(*) FROM threads WHERE file_id = ?", (gone.file_id,)
            )
            if others is not None and int(others[0]) == 0:
                # Cache keys are "<file id>:<language>:<translation>" (bot.jobs.transcription).
                await tx.execute(
                    "DELETE FROM transcripts WHERE substr(cache_key, 1, ?) = ?",
                    (len(gone.file_id) + 1, gone.file_id + ":"),
                )
        return gone

    async def threads_of_file(self, file_id: str) -> list[ThreadTranscript]:
        rows = await self._db.fetchall(_THREAD_SELECT + " WHERE t.file_id = ?", (file_id,))
        return [_thread_from_row(row) for row in rows]

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


def _thread_from_row(row: Row) -> ThreadTranscript:
    file_id, transcript, duration_s, channel_id, thread_ts, cache_key, job_id, names = row[:8]
    reply, exports, linked_at = row[8:11]
    return ThreadTranscript(
        file_id=str(file_id),
        transcript_json=str(transcript),
        duration_s=float(duration_s),
        channel_id=str(channel_id),
        thread_ts=str(thread_ts),
        cache_key=str(cache_key),
        job_id=str(job_id),
        speaker_names=_names(names),
        reply=str(reply or ""),
        exports=_names(exports),
        linked_at=float(linked_at or 0),
    )


def _names(raw: object) -> dict[str, str]:
    try:
        loaded = json.loads(str(raw or "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


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
