"""The ack path: the journal write before the ack stays, and costs as little as it can.

Concurrent submits (a burst) share one INSERT, committed before any of them returns;
plain channel messages are acked without touching the journal at all; jobs start once a
burst of events is over, so that their work on the event loop does not delay its acks.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from bot.jobs.spec import Job
from bot.queue.base import Outcome
from bot.queue.local import LocalQueue
from bot.store.sqlite_db import SqliteDatabase
from tests.conftest import JOURNAL, Server, settle, wait_for
from tests.emulators.slack import SlackEmulator

CHANNEL = "C0GENERAL"


async def trace(db: SqliteDatabase) -> list[str]:
    """Every SQL statement the shared connection runs from now on."""
    statements: list[str] = []
    await db._conn.set_trace_callback(statements.append)
    return statements


def job(n: int, channel: str = "C1") -> Job:
    return Job(id=f"t:{channel}:F{n}", channel_id=channel, file_id=f"F{n}")


async def test_a_burst_of_submits_is_one_insert_committed_before_any_returns(
    db: SqliteDatabase, tmp_path: Path
) -> None:
    queue = LocalQueue(db, concurrency=1)
    statements = await trace(db)
    jobs = [job(n, channel=f"C{n % 7}") for n in range(100)]
    created = await asyncio.gather(*(queue.submit(j) for j in jobs))
    assert created == [True] * 100
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert 1 <= len(inserts) <= 3, len(inserts)
    # Committed: another connection sees every job as soon as the submits returned.
    other = sqlite3.connect(tmp_path / JOURNAL)
    try:
        count = other.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
    finally:
        other.close()
    assert count == 100


async def test_the_same_job_twice_in_one_burst_is_created_once(db: SqliteDatabase) -> None:
    queue = LocalQueue(db, concurrency=1)
    assert await queue.submit(job(0)) is True
    results = await asyncio.gather(
        queue.submit(job(1)), queue.submit(job(1)), queue.submit(job(0)), queue.submit(job(2))
    )
    assert results == [True, False, False, True]
    assert await queue.depth() == 3


async def test_a_failed_batch_fails_every_submit_in_it(db: SqliteDatabase) -> None:
    queue = LocalQueue(db, concurrency=1)
    await db.execute("DROP TABLE jobs")
    results = await asyncio.gather(
        queue.submit(job(1)), queue.submit(job(2)), return_exceptions=True
    )
    assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
    # The next submit is not stuck behind the failed batch.
    with pytest.raises(sqlite3.OperationalError):
        await asyncio.wait_for(queue.submit(job(3)), timeout=5)


async def test_plain_channel_messages_are_acked_without_touching_the_journal(
    slack: SlackEmulator, server: Server
) -> None:
    assert server.runtime.queue is not None
    await settle(server)
    db = server.runtime.queue._db  # type: ignore[attr-defined]
    statements = await trace(db)
    for n in range(20):
        message = slack.post_user_message(CHANNEL, text=f"just chatting {n}")
        sent = await slack.send_event(server.events_url, message)
        assert sent.status == 200
    journal = [s for s in statements if "jobs" in s and "COUNT" not in s.upper()]
    # The idle workers poll for work (a claim, no rows); no event wrote anything.
    assert [s for s in journal if s.lstrip().upper().startswith("INSERT")] == []
    await db._conn.set_trace_callback(None)


async def test_jobs_start_once_a_burst_of_events_is_over(db: SqliteDatabase) -> None:
    """A job's first steps run on the event loop: they wait until the acks are done."""
    started: list[float] = []

    async def handler(j: Job, attempt: int) -> Outcome:
        started.append(time.monotonic())
        return "done"

    queue = LocalQueue(db, concurrency=2)
    await queue.start(handler)
    try:
        first = time.monotonic()
        for n in range(15):  # an event every ~2 ms: well inside the 25 ms quiet window
            await queue.submit(job(n))
            await asyncio.sleep(0.002)
        last = time.monotonic()
        await wait_for(lambda: len(started) == 15)
    finally:
        await queue.shutdown(1.0)
    assert min(started) >= last - 0.005, (min(started) - first, last - first)
