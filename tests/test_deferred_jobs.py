"""Both queues hold a deferred job until its due time, durably, and free the slot meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.jobs.spec import Job
from bot.queue.base import Deferred, Outcome
from bot.queue.local import LocalQueue
from bot.queue.redis import RedisQueue
from bot.queue.redis_worker import RedisWorker
from bot.store.redis import RedisStore
from bot.store.sqlite_db import SqliteDatabase
from tests.conftest import wait_for

pytest_plugins = ["tests.redis_fixtures"]

DAY = 86_400
WAIT_S = 1.5


class DeferOnce:
    """Defers the job `first` once by WAIT_S (as a transient failure does); runs the rest."""

    def __init__(self, first: str) -> None:
        self.first = first
        self.runs: list[tuple[str, float, int]] = []  # job id, when, transient failures
        self.due_at = 0.0

    async def __call__(self, job: Job, attempt: int) -> Outcome:
        self.runs.append((job.id, time.time(), job.transient_failures))
        if job.id == self.first and job.transient_failures == 0:
            self.due_at = time.time() + WAIT_S
            again = job.model_copy(update={"transient_failures": 1, "transient_since": 1.0})
            return Deferred(again, self.due_at)
        return "done"

    def ran(self, job_id: str) -> list[tuple[float, int]]:
        return [(at, failures) for jid, at, failures in self.runs if jid == job_id]


def _job(n: int) -> Job:
    return Job(id=f"t:C1:F{n}", channel_id="C1", file_id=f"F{n}")


async def test_the_local_queue_runs_a_deferred_job_at_its_due_time_and_others_meanwhile(
    tmp_path: Path,
) -> None:
    db = await SqliteDatabase.open(tmp_path / "journal.db")
    queue = LocalQueue(db, concurrency=1)  # one slot: a held slot would block F2
    handler = DeferOnce("t:C1:F1")
    await queue.start(handler)
    try:
        await queue.submit(_job(1))
        await wait_for(lambda: handler.due_at, timeout=5)
        await queue.submit(_job(2))
        await wait_for(lambda: handler.ran("t:C1:F2"), timeout=5)
        assert handler.ran("t:C1:F2")[0][0] < handler.due_at  # not behind the waiting job
        await wait_for(lambda: len(handler.ran("t:C1:F1")) == 2, timeout=10)
    finally:
        await queue.shutdown(1)
        await db.close()
    (_first_at, _), (again_at, failures) = handler.ran("t:C1:F1")
    assert again_at >= handler.due_at
    assert failures == 1  # the spec as the deferring run left it


async def test_the_local_queue_keeps_the_due_time_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    db = await SqliteDatabase.open(path)
    queue = LocalQueue(db, concurrency=1)
    handler = DeferOnce("t:C1:F1")
    await queue.start(handler)
    await queue.submit(_job(1))
    await wait_for(lambda: handler.due_at, timeout=5)
    await queue.shutdown(1)
    await db.close()

    db = await SqliteDatabase.open(path)
    queue = LocalQueue(db, concurrency=1)
    after = DeferOnce("none")
    await queue.start(after)
    try:
        await asyncio.sleep(WAIT_S / 3)
        assert after.runs == []  # started again, but the job is not due yet
        await wait_for(lambda: after.runs, timeout=10)
    finally:
        await queue.shutdown(1)
        await db.close()
    assert after.runs[0][1] >= handler.due_at and after.runs[0][2] == 1


@pytest.fixture
async def redis_queue(redis_url: str) -> AsyncIterator[RedisQueue]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield RedisQueue(redis, retention_s=DAY)
    finally:
        await RedisStore(redis, retention_s=DAY).close()


def _worker(queue: RedisQueue, handler: DeferOnce, redis_url: str) -> RedisWorker:
    return RedisWorker(
        queue,
        handler,
        redis_url=redis_url,
        concurrency=1,
        lease_s=5,
        job_budget_s=30,
        retention_s=DAY,
    )


@pytest.mark.redis
async def test_redis_runs_a_deferred_job_at_its_due_time_even_after_a_worker_restart(
    redis_queue: RedisQueue, redis_url: str
) -> None:
    handler = DeferOnce("t:C1:F1")
    worker = _worker(redis_queue, handler, redis_url)
    await worker.start()
    try:
        await redis_queue.submit(_job(1))
        await wait_for(lambda: handler.due_at, timeout=10)
        await redis_queue.submit(_job(2))
        # The only slot is free while F1 waits.
        await wait_for(lambda: handler.ran("t:C1:F2"), timeout=10)
        assert handler.ran("t:C1:F2")[0][0] < handler.due_at
    finally:
        await worker.stop(1)
    after = DeferOnce("none")
    worker = _worker(redis_queue, after, redis_url)
    await worker.start()
    try:
        await wait_for(lambda: after.ran("t:C1:F1"), timeout=15)
    finally:
        await worker.stop(1)
    ((again_at, failures),) = after.ran("t:C1:F1")
    assert again_at >= handler.due_at - 0.01  # arq's score is in ms
    assert failures == 1  # the spec from our record, not arq's original argument
