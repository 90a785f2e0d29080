"""Redis backend of the store (scaled-out mode): every instance and worker sees the same state.

Keys (all under `scribe:`; values are strings, the client decodes them):

- `scribe:job:<job id>` hash: spec, channel_id, state, attempts, last_error, reply_ts,
  created_at, updated_at. Written by `RedisQueue.submit`; it is also the dedup record, so it
  lives SCRIBE_RETENTION_DAYS (refreshed when the job finishes), not as long as arq's result.
- `scribe:channel:<channel id>` hash: auto_transcribe ("1"/"0"), language, translate_to;
  an absent field means "the app-wide default". No TTL: settings are kept until changed.
- `scribe:vocabulary:<channel id>` hash: casefolded term → JSON `[added_at, term]`
  (HSETNX: one spelling per term, the first); no TTL, like settings.
- `scribe:transcript:<cache key>` hash: transcript, duration_s, created_at; TTL = retention.
- `scribe:thread:<channel id>:<thread ts>` hash: file_id, cache_key, created_at, job_id,
  speaker_names (JSON label → name), reply (how it was rendered), exports (JSON export key →
  permalink); TTL = retention.
- `scribe:file-threads:<file id>` set of `<channel id>:<thread ts>`: the threads of a file,
  for deleting its transcripts with it; TTL = retention.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from redis.asyncio import Redis

from bot.jobs.spec import Job, JobState
from bot.store.base import ChannelSettings, JobRecord, ThreadTranscript, merge_names

PREFIX = "scribe:"
_SETTING_FIELDS = ("auto_transcribe", "language", "translate_to")
_STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed")

# Sets reply_ts only on a job that exists, as the SQLite UPDATE does; HSET alone would
# create a half record that get_job could not read.
_RECORD_REPLY = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'reply_ts', ARGV[1], 'updated_at', ARGV[2])
  return 1
end
return 0
"""


def job_key(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def channel_key(channel_id: str) -> str:
    return f"{PREFIX}channel:{channel_id}"


def vocabulary_key(channel_id: str) -> str:
    return f"{PREFIX}vocabulary:{channel_id}"


def transcript_key(cache_key: str) -> str:
    return f"{PREFIX}transcript:{cache_key}"


def thread_key(channel_id: str, thread_ts: str) -> str:
    return f"{PREFIX}thread:{channel_id}:{thread_ts}"


def file_threads_key(file_id: str) -> str:
    """The threads (`<channel>:<ts>`) whose transcript is of this file."""
    return f"{PREFIX}file-threads:{file_id}"


class RedisStore:
    """`bot.store.base.Store` on Redis. Owns the connection pool it is given (closes it)."""

    def __init__(self, redis: Redis, *, retention_s: int) -> None:
        self._redis = redis
        self._retention_s = retention_s
        self._record_reply = redis.register_script(_RECORD_REPLY)

    async def ping(self) -> None:
        # A key of our own, so concurrent health checks of several instances cannot collide.
        key = f"{PREFIX}ping:{secrets.token_hex(8)}"
        token = secrets.token_hex(8)
        await self._redis.set(key, token, ex=10)
        try:
            if await self._redis.get(key) != token:
                raise RuntimeError("Redis did not return the value just written")
        finally:
            await self._redis.delete(key)

    async def get_channel_settings(self, channel_id: str) -> ChannelSettings:
        raw = await _hgetall(self._redis, channel_key(channel_id))
        auto = raw.get("auto_transcribe")
        return ChannelSettings(
            auto_transcribe=None if auto is None else auto == "1",
            language=raw.get("language"),
            translate_to=raw.get("translate_to"),
        )

    async def update_channel_settings(self, channel_id: str, **changes: object) -> ChannelSettings:
        unknown = set(changes) - set(_SETTING_FIELDS)
        if unknown:
            raise ValueError(f"unknown channel settings: {sorted(unknown)}")
        key = channel_key(channel_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            for field, value in changes.items():
                if value is None:
                    pipe.hdel(key, field)
                elif isinstance(value, bool):
                    pipe.hset(key, field, "1" if value else "0")
                else:
                    pipe.hset(key, field, str(value))
            await pipe.execute()
        return await self.get_channel_settings(channel_id)

    async def get_vocabulary(self, channel_id: str) -> list[str]:
        raw = await _hgetall(self._redis, vocabulary_key(channel_id))
        entries = sorted(json.loads(v) for v in raw.values())
        return [str(term) for _, term in entries]

    async def add_vocabulary(self, channel_id: str, terms: list[str]) -> list[str]:
        key, now = vocabulary_key(channel_id), time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            for i, term in enumerate(terms):
                pipe.hsetnx(key, term.casefold(), json.dumps([now + i * 1e-6, term]))
            await pipe.execute()
        return await self.get_vocabulary(channel_id)

    async def remove_vocabulary(self, channel_id: str, term: str) -> str | None:
        key, folded = vocabulary_key(channel_id), term.casefold()
        raw = await self._redis.hget(key, folded)  # type: ignore[misc]
        if raw is None or not await self._redis.hdel(key, folded):  # type: ignore[misc]
            return None
        return str(json.loads(raw)[1])

    async def get_job(self, job_id: str) -> JobRecord | None:
        raw = await _hgetall(self._redis, job_key(job_id))
        return job_record_from_hash(raw) if "spec" in raw else None

    async def record_reply(self, job_id: str, reply_ts: str) -> None:
        await self._record_reply(keys=[job_key(job_id)], args=[reply_ts, time.time()])

    async def get_cached_transcript(self, key: str) -> tuple[str, float] | None:
        raw = await _hgetall(self._redis, transcript_key(key))
        if "transcript" not in raw:
            return None
        return raw["transcript"], float(raw.get("duration_s") or 0.0)

    async def cache_transcript(self, key: str, transcript_json: str, duration_s: float) -> None:
        await self._put(
            transcript_key(key),
            {"transcript": transcript_json, "duration_s": duration_s, "created_at": time.time()},
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
        key = thread_key(channel_id, thread_ts)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)  # names given to an earlier transcript's labels start over
            pipe.hset(
                key,
                mapping={
                    "file_id": file_id,
                    "cache_key": cache_key,
                    "created_at": time.time(),
                    "job_id": job_id,
                    "speaker_names": "{}",
                    "reply": reply,
                    "exports": "{}",
                },
            )
            pipe.expire(key, self._retention_s)
            pipe.sadd(file_threads_key(file_id), f"{channel_id}:{thread_ts}")
            pipe.expire(file_threads_key(file_id), self._retention_s)
            await pipe.execute()

    async def thread_transcript(self, channel_id: str, thread_ts: str) -> ThreadTranscript | None:
        found = await self._thread(channel_id, thread_ts)
        # A link whose transcript expired is no transcript to answer from.
        return found if found is not None and found.transcript_json else None

    async def _thread(self, channel_id: str, thread_ts: str) -> ThreadTranscript | None:
        link = await _hgetall(self._redis, thread_key(channel_id, thread_ts))
        if "cache_key" not in link:
            return None
        cached = await self.get_cached_transcript(link["cache_key"]) or ("", 0.0)
        return ThreadTranscript(
            file_id=link.get("file_id", ""),
            transcript_json=cached[0],
            duration_s=cached[1],
            channel_id=channel_id,
            thread_ts=thread_ts,
            cache_key=link["cache_key"],
            job_id=link.get("job_id", ""),
            speaker_names=_names(link.get("speaker_names")),
            reply=link.get("reply", ""),
            exports=_names(link.get("exports")),
            linked_at=float(link.get("created_at") or 0),
        )

    async def rename_speakers(
        self, channel_id: str, thread_ts: str, names: dict[str, str]
    ) -> dict[str, str] | None:
        return await self._merge_json(
            thread_key(channel_id, thread_ts),
            "speaker_names",
            lambda current: merge_names(current, names),
        )

    async def record_export(
        self, channel_id: str, thread_ts: str, key: str, permalink: str
    ) -> None:
        await self._merge_json(
            thread_key(channel_id, thread_ts),
            "exports",
            lambda current: {**current, key: permalink},
        )

    async def _merge_json(
        self,
        key: str,
        field: str,
        change: Callable[[dict[str, str]], dict[str, str]],
    ) -> dict[str, str] | None:
        """Rewrite a JSON-object field of an existing hash; None when the hash is gone."""
        async with self._redis.pipeline(transaction=True) as pipe:
            # WATCH: two changes at once must not lose one of them.
            await pipe.watch(key)
            if not await pipe.exists(key):
                await pipe.reset()  # type: ignore[no-untyped-call]
                return None
            merged = change(_names(await pipe.hget(key, field)))  # type: ignore[misc]
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(key, field, json.dumps(merged))
            await pipe.execute()
        return merged

    async def forget_thread(self, channel_id: str, thread_ts: str) -> ThreadTranscript | None:
        gone = await self._thread(channel_id, thread_ts)
        await self._redis.delete(thread_key(channel_id, thread_ts))
        if gone is None:
            return None
        index = file_threads_key(gone.file_id)
        await self._redis.srem(index, f"{channel_id}:{thread_ts}")  # type: ignore[misc]
        if not await self._redis.scard(index):  # type: ignore[misc]
            # Cache keys are "<file id>:<language>:<translation>" (bot.jobs.transcription).
            async for key in self._redis.scan_iter(
                match=transcript_key(_glob_escape(gone.file_id) + ":*"), count=500
            ):
                await self._redis.delete(key)
        return gone

    async def threads_of_file(self, file_id: str) -> list[ThreadTranscript]:
        members = await self._redis.smembers(file_threads_key(file_id))  # type: ignore[misc]
        found = []
        for member in sorted(str(m) for m in members):
            channel_id, _, thread_ts = member.partition(":")
            thread = await self._thread(channel_id, thread_ts)
            if thread is not None:
                found.append(thread)
        return found

    async def purge(self, older_than_s: float) -> int:
        """Delete finished jobs, transcripts and thread links older than this.

        Every such key also carries a TTL of SCRIBE_RETENTION_DAYS, so this is only needed
        to purge sooner than that; it walks the keys with SCAN and never blocks Redis.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        patterns = (
            (job_key("*"), "updated_at", True),
            (transcript_key("*"), "created_at", False),
            (thread_key("*", "*"), "created_at", False),
        )
        for pattern, stamp, finished_only in patterns:
            async for key in self._redis.scan_iter(match=pattern, count=500):
                state, when = await self._redis.hmget(key, ["state", stamp])  # type: ignore[misc]
                if finished_only and state not in ("done", "failed"):
                    continue
                if when is not None and float(when) < cutoff:
                    removed += int(await self._redis.delete(key))
        return removed

    async def close(self) -> None:
        await self._redis.aclose()

    async def _put(self, key: str, fields: Mapping[str, str | float]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=dict(fields))
            pipe.expire(key, self._retention_s)
            await pipe.execute()


def job_record_from_hash(raw: Mapping[str, str]) -> JobRecord:
    state = raw.get("state", "queued")
    if state not in _STATES:
        raise ValueError(f"unknown job state {state!r}")
    return JobRecord(
        job=Job.model_validate_json(raw["spec"]),
        state=state,
        attempts=int(raw.get("attempts") or 0),
        last_error=raw.get("last_error") or None,
        reply_ts=raw.get("reply_ts") or None,
    )


def _names(raw: object) -> dict[str, str]:
    try:
        loaded = json.loads(str(raw or "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _glob_escape(text: str) -> str:
    """A literal in a SCAN MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


async def _hgetall(redis: Redis, key: str) -> dict[str, str]:
    raw: dict[Any, Any] = await redis.hgetall(key)  # type: ignore[misc]
    return {str(k): str(v) for k, v in raw.items()}
