"""The embedded queue on a real SQLite file: dedup, fairness, bounded concurrency, shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.jobs.spec import Job
from bot.queue.base import Outcome
from bot.queue.local import LocalQueue
from bot.store.sqlite import SqliteStore
from bot.store.sqlite_db import SqliteDatabase
from tests.conftest import wait_for


def job(channel: str, n: int) -> Job:
    return Job(id=f"t:{channel}:F{n}", channel_id=channel, file_id=f"F{n}")


class Recorder:
    """A handler that records the order and concurrency of the jobs it is given."""

    def __init__(self, delay: float = 0.05) -> None:
        self.order: list[str] = []
        self.running = 0
        self.max_running = 0
        self.delay = delay
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, j: Job, attempt: int) -> Outcome:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self.order.append(j.id)
        try:
            await self.release.wait()
            await asyncio.sleep(self.delay)
        finally:
            self.running -= 1
        return "done"


async def test_submit_dedups_by_job_id(db: SqliteDatabase) -> None:
    queue = LocalQueue(db, concurrency=2)
    assert await queue.submit(job("C1", 1)) is True
    assert await queue.submit(job("C1", 1)) is False
    assert await queue.depth() == 1


async def test_a_busy_channel_does_not_starve_another(db: SqliteDatabase) -> None:
    queue = LocalQueue(db, concurrency=1)
    for n in range(6):
        await queue.submit(job("CBUSY", n))
    await queue.submit(job("CQUIET", 99))
    recorder = Recorder(delay=0.01)
    await queue.start(recorder)
    await wait_for(lambda: len(recorder.order) == 7)
    await queue.shutdown(1)
    # The quiet channel's clip runs second, not after the whole backlog.
    assert recorder.order.index("t:CQUIET:F99") == 1


async def test_never_more_jobs_in_flight_than_the_limit(db: SqliteDatabase) -> None:
    queue = LocalQueue(db, concurrency=3)
    for n in range(12):
        await queue.submit(job(f"C{n}", n))
    recorder = Recorder(delay=0.05)
    await queue.start(recorder)
    await wait_for(lambda: len(recorder.order) == 12)
    await queue.shutdown(1)
    assert recorder.max_running == 3
    assert sorted(recorder.order) == sorted(f"t:C{n}:F{n}" for n in range(12))


async def test_shutdown_leaves_waiting_jobs_queued_and_they_resume(db: SqliteDatabase) -> None:
    queue = LocalQueue(db, concurrency=1)
    for n in range(3):
        await queue.submit(job("C1", n))
    recorder = Recorder()
    recorder.release.clear()  # the first job blocks until released
    await queue.start(recorder)
    await wait_for(lambda: recorder.order)
    stopping = asyncio.create_task(queue.shutdown(5))
    await asyncio.sleep(0.1)
    recorder.release.set()  # the running job finishes inside the grace period
    await stopping
    assert recorder.order == ["t:C1:F0"]
    store = SqliteStore(db)
    first = await store.get_job("t:C1:F0")
    assert first is not None and first.state == "done"
    assert await queue.depth() == 2

    resumed = LocalQueue(db, concurrency=1)
    again = Recorder()
    await resumed.start(again)
    await wait_for(lambda: len(again.order) == 2)
    await resumed.shutdown(1)
    assert again.order == ["t:C1:F1", "t:C1:F2"]


async def test_job_cut_off_by_shutdown_resumes_as_a_second_attempt(db: SqliteDatabase) -> None:
    queue = LocalQueue(db, concurrency=1)
    await queue.submit(job("C1", 1))
    blocked = Recorder()
    blocked.release.clear()  # never finishes within the grace period
    await queue.start(blocked)
    await wait_for(lambda: blocked.order)
    await queue.shutdown(0.1)

    attempts: list[int] = []

    async def handler(j: Job, attempt: int) -> Outcome:
        attempts.append(attempt)
        return "done"

    resumed = LocalQueue(db, concurrency=1)
    await resumed.start(handler)
    await wait_for(lambda: attempts)
    await resumed.shutdown(1)
    assert attempts == [2]


async def test_one_consumer_per_journal_a_second_waits_for_the_first_to_end(
    tmp_path: Path,
) -> None:
    """Two processes consuming one journal would each run the other's jobs again."""
    first_db = await SqliteDatabase.open(tmp_path / "journal.db")
    second_db = await SqliteDatabase.open(tmp_path / "journal.db")
    first, second = LocalQueue(first_db, concurrency=1), LocalQueue(second_db, concurrency=1)
    slow, other = Recorder(delay=0.5), Recorder()
    try:
        await first.start(slow)
        await first.submit(job("C1", 1))
        await wait_for(lambda: slow.order)  # the first is running it
        await second.start(other)  # another consumer of the same journal starts
        with pytest.raises(RuntimeError, match="another process"):
            await second.check()  # /healthz says why it does nothing
        await asyncio.sleep(0.7)
        # It did not reset the first one's running job and run it again.
        assert other.order == []
        await first.shutdown(5)
        await second.submit(job("C1", 2))
        await wait_for(lambda: other.order == ["t:C1:F2"], timeout=10)
        await second.check()
    finally:
        await first.shutdown(1)
        await second.shutdown(1)
        await first_db.close()
        await second_db.close()
    assert slow.order == ["t:C1:F1"]
