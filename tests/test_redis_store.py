"""Redis mode, store and queue on a real redis-server: the same semantics as SQLite mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.exceptions
from redis.asyncio import Redis

from bot.backends import open_redis_backend
from bot.jobs.spec import Job, transcribe_job_id
from bot.queue.redis import QUEUE_NAME, RedisQueue
from bot.queue.redis_worker import RedisWorker
from bot.store.base import ChannelSettings
from bot.store.redis import RedisStore, job_key
from tests.conftest import make_settings, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator

pytest_plugins = ["tests.redis_fixtures"]
pytestmark = pytest.mark.redis

DAY = 86_400


@pytest.fixture
async def backend(redis_url: str) -> AsyncIterator[tuple[RedisStore, RedisQueue]]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    store, queue = RedisStore(redis, retention_s=30 * DAY), RedisQueue(redis, retention_s=30 * DAY)
    try:
        yield store, queue
    finally:
        await store.close()


def clip_job(file_id: str = "F1", channel: str = "C1") -> Job:
    return Job(
        id=transcribe_job_id(channel, file_id),
        channel_id=channel,
        file_id=file_id,
        thread_ts="1.0",
        message_ts="1.0",
    )


async def test_channel_settings_round_trip_and_reset(
    backend: tuple[RedisStore, RedisQueue],
) -> None:
    store, _ = backend
    assert await store.get_channel_settings("C1") == ChannelSettings()
    got = await store.update_channel_settings("C1", auto_transcribe=False, language="de")
    assert got == ChannelSettings(auto_transcribe=False, language="de")
    got = await store.update_channel_settings("C1", auto_transcribe=True, translate_to="en")
    assert got == ChannelSettings(auto_transcribe=True, language="de", translate_to="en")
    got = await store.update_channel_settings("C1", language=None)
    assert got == ChannelSettings(auto_transcribe=True, translate_to="en")
    assert await store.get_channel_settings("C2") == ChannelSettings()
    with pytest.raises(ValueError, match="unknown channel settings"):
        await store.update_channel_settings("C1", colour="blue")


async def test_submit_dedups_and_keeps_deduping_after_the_job_is_done(
    backend: tuple[RedisStore, RedisQueue], redis_url: str
) -> None:
    store, queue = backend
    job = clip_job()
    assert await queue.submit(job) is True
    assert await queue.submit(job) is False
    assert await queue.submit(job.model_copy(update={"thread_ts": "2.0"})) is False
    assert await queue.depth() == 1
    record = await store.get_job(job.id)
    assert record is not None
    assert (record.state, record.attempts, record.reply_ts) == ("queued", 0, None)
    assert record.job == job

    # The record is the dedup key and carries the retention TTL (not arq's result TTL).
    raw = Redis.from_url(redis_url, decode_responses=True)
    try:
        ttl = await raw.ttl(job_key(job.id))
        assert 29 * DAY < ttl <= 30 * DAY
        # A worker finishes it: arq removes its own job and queue entry; ours stays.
        assert await queue.begin(job, owner="w1", lease_ms=10_000) == 1
        await store.record_reply(job.id, "1700000000.000100")
        await queue.finish(job.id, "done")
        await raw.delete(f"arq:job:{job.id}")
        await raw.zrem(QUEUE_NAME, job.id)
    finally:
        await raw.aclose()
    assert await queue.depth() == 0
    assert await queue.in_flight() == 0
    assert await queue.submit(job) is False  # the same file announced again later
    record = await store.get_job(job.id)
    assert record is not None
    assert (record.state, record.attempts, record.reply_ts) == ("done", 1, "1700000000.000100")


async def test_concurrent_submits_of_one_job_create_it_once(
    backend: tuple[RedisStore, RedisQueue], redis_url: str
) -> None:
    _, queue = backend
    others = [Redis.from_url(redis_url, decode_responses=True) for _ in range(4)]
    queues = [queue] + [RedisQueue(r, retention_s=DAY) for r in others]
    try:
        jobs = [clip_job(f"F{i}") for i in range(20)]
        results = await asyncio.gather(*(q.submit(j) for j in jobs for q in queues))
    finally:
        for r in others:
            await r.aclose()
    assert sum(results) == 20
    assert await queue.depth() == 20


async def test_record_reply_needs_an_existing_job(
    backend: tuple[RedisStore, RedisQueue], redis_url: str
) -> None:
    store, _ = backend
    await store.record_reply("t:C1:nope", "1.0")
    # get_job() is None for any hash without a spec, so ask Redis itself: no key was made
    # (a stray hash without a TTL would never expire).
    raw = Redis.from_url(redis_url, decode_responses=True)
    try:
        assert await raw.exists(job_key("t:C1:nope")) == 0
    finally:
        await raw.aclose()


async def test_transcripts_threads_and_purge(backend: tuple[RedisStore, RedisQueue]) -> None:
    store, queue = backend
    assert await store.get_cached_transcript("F1::") is None
    await store.cache_transcript("F1::", '{"summary": "hi"}', 12.5)
    assert await store.get_cached_transcript("F1::") == ('{"summary": "hi"}', 12.5)
    assert await store.thread_transcript("C1", "1.0") is None
    await store.link_thread("C1", "1.0", "F1", "F1::")
    found = await store.thread_transcript("C1", "1.0")
    assert found is not None
    assert (found.file_id, found.transcript_json, found.duration_s) == (
        "F1",
        '{"summary": "hi"}',
        12.5,
    )

    done, waiting = clip_job("F1"), clip_job("F2")
    for job in (done, waiting):
        await queue.submit(job)
    await queue.begin(done, owner="w1", lease_ms=10_000)
    await queue.finish(done.id, "done")
    assert await store.purge(older_than_s=3600) == 0
    await asyncio.sleep(0.05)
    # Finished job, transcript and thread link go; the queued job stays.
    assert await store.purge(older_than_s=0.01) == 3
    assert await store.get_job(done.id) is None
    assert await store.get_job(waiting.id) is not None
    assert await store.thread_transcript("C1", "1.0") is None


async def test_ping_and_open_backend_fail_clearly_without_redis(
    backend: tuple[RedisStore, RedisQueue],
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    tmp_path: Path,
) -> None:
    store, _ = backend
    await store.ping()
    from tests.redis_fixtures import free_port

    settings = make_settings(
        slack, gemini, tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    with pytest.raises(redis.exceptions.ConnectionError):
        await open_redis_backend(settings)


async def test_worker_runs_jobs_and_counts_attempts(
    backend: tuple[RedisStore, RedisQueue], redis_url: str
) -> None:
    store, queue = backend
    seen: list[tuple[str, int]] = []
    gate = asyncio.Event()

    async def handler(job: Job, attempt: int) -> str:
        seen.append((job.id, attempt))
        await gate.wait()
        return "done"

    worker = RedisWorker(
        queue,
        handler,  # type: ignore[arg-type]
        redis_url=redis_url,
        concurrency=2,
        lease_s=5,
        job_budget_s=30,
        retention_s=DAY,
    )
    await worker.start()
    try:
        jobs = [clip_job(f"F{i}") for i in range(3)]
        for job in jobs:
            await queue.submit(job)
        await wait_for(lambda: len(seen) == 2, timeout=10)
        assert await queue.in_flight() == 2
        assert await queue.depth() == 1
        record = await store.get_job(seen[0][0])
        assert record is not None and record.state == "running"
        gate.set()
        await wait_for(lambda: len(seen) == 3, timeout=10)
        deadline = time.monotonic() + 10
        while await queue.depth() or await queue.in_flight():
            assert time.monotonic() < deadline, "jobs did not finish"
            await asyncio.sleep(0.05)
    finally:
        await worker.stop(grace_s=5)
    assert sorted(seen) == sorted((j.id, 1) for j in jobs)
    for job in jobs:
        record = await store.get_job(job.id)
        assert record is not None and (record.state, record.attempts) == ("done", 1)
