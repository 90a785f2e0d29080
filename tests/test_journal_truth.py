"""The SQLite journal under concurrency: what is acknowledged is kept and run exactly once.

These run the real `LocalQueue` and `SqliteStore` on one database file, as `serve`
does, with the health probe (`/healthz` calls `Store.ping`) firing while jobs are
submitted and claimed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from bot.jobs.spec import Job
from bot.queue.base import Outcome
from bot.queue.local import LocalQueue
from bot.store.sqlite import SqliteStore
from bot.store.sqlite_db import SqliteDatabase
from tests.conftest import JOURNAL, Server, wait_for


def _job(n: int) -> Job:
    return Job(id=f"t:C{n % 7}:F{n}", channel_id=f"C{n % 7}", file_id=f"F{n}")


async def _probe_forever(store: SqliteStore, per_second: float, counter: list[int]) -> None:
    """What a load balancer does to /healthz: ping the store at a steady rate."""
    while True:
        await store.ping()
        counter[0] += 1
        await asyncio.sleep(1 / per_second)


async def test_every_acknowledged_job_runs_exactly_once_while_health_probes_run(
    db: SqliteDatabase,
) -> None:
    store = SqliteStore(db)
    queue = LocalQueue(db, concurrency=4)
    runs: collections.Counter[str] = collections.Counter()

    async def handler(job: Job, attempt: int) -> Outcome:
        runs[job.id] += 1
        await asyncio.sleep(0)  # let submits, claims and probes interleave
        return "done"

    probes = [0]
    # Several probers at 50/s in all: their transactions overlap submits and claims.
    probers = [asyncio.create_task(_probe_forever(store, 12.5, probes)) for _ in range(4)]
    await queue.start(handler)
    try:
        accepted: list[bool] = []
        for batch in range(10):  # 500 submits in bursts, claims running meanwhile
            accepted += await asyncio.gather(
                *(queue.submit(_job(batch * 50 + i)) for i in range(50))
            )
            await asyncio.sleep(0.02)
        await wait_for(lambda: sum(runs.values()) >= 500, timeout=30)
        await wait_for(lambda: probes[0] >= 20, timeout=10)
    finally:
        for task in probers:
            task.cancel()
        await asyncio.gather(*probers, return_exceptions=True)
        await queue.shutdown(5)

    assert accepted.count(True) == 500
    assert set(runs) == {_job(n).id for n in range(500)}
    assert set(runs.values()) == {1}, "a job ran more than once"
    rows = await db.fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
    assert dict(rows) == {"done": 500}


async def test_a_job_with_an_unreadable_spec_fails_alone_and_the_worker_goes_on(
    db: SqliteDatabase,
) -> None:
    queue = LocalQueue(db, concurrency=1)
    now = time.time()
    # A row no version of Job can read (e.g. written by a newer release, or damaged).
    await db.execute(
        "INSERT INTO jobs(id, spec, channel_id, state, created_at, updated_at) "
        "VALUES ('t:C1:BAD', '{not json', 'C1', 'queued', ?, ?)",
        (now - 10, now - 10),
    )
    await queue.submit(_job(1))
    seen: list[str] = []

    async def handler(job: Job, attempt: int) -> Outcome:
        seen.append(job.id)
        return "done"

    await queue.start(handler)
    try:
        await wait_for(lambda: seen, timeout=5)
        await queue.check()  # the worker is alive
    finally:
        await queue.shutdown(1)
    assert seen == [_job(1).id]
    bad = await db.fetchone("SELECT state, last_error FROM jobs WHERE id = 't:C1:BAD'")
    assert bad is not None
    assert bad[0] == "failed"
    assert "spec" in str(bad[1])
    # It is not put back at the next start either.
    again = LocalQueue(db, concurrency=1)
    await again.start(handler)
    try:
        assert await again.depth() == 0
    finally:
        await again.shutdown(1)


async def test_healthz_fails_when_a_worker_has_died(server: Server) -> None:
    queue = server.runtime.queue
    assert isinstance(queue, LocalQueue)
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/healthz") as resp:
            assert resp.status == 200
        queue._workers[0].cancel()  # what an unexpected error out of the loop amounts to
        await asyncio.gather(queue._workers[0], return_exceptions=True)
        async with http.get(server.url + "/healthz") as resp:
            body = await resp.json()
            assert resp.status == 503
    assert body["reason"].startswith("queue: ")
    assert "worker" in body["reason"]


async def cancelled_while_locked(path: Path, work: Coroutine[Any, Any, object]) -> None:
    """Start `work` while another process holds the write lock, and give up on it."""
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    task = asyncio.create_task(work)
    await asyncio.sleep(0.2)  # its BEGIN waits out SQLite's busy timeout
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    blocker.execute("ROLLBACK")
    blocker.close()


def committed_jobs(path: Path) -> int:
    """Jobs another connection sees: only what was committed."""
    other = sqlite3.connect(path)
    try:
        return int(other.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
    finally:
        other.close()


async def test_a_probe_cancelled_while_the_database_is_locked_leaves_no_transaction_open(
    db: SqliteDatabase, tmp_path: Path
) -> None:
    """/healthz gives up after 8 s; the BEGIN it sent still runs on aiosqlite's thread."""
    await cancelled_while_locked(tmp_path / JOURNAL, SqliteStore(db).ping())
    assert await LocalQueue(db, concurrency=1).submit(_job(1))
    assert committed_jobs(tmp_path / JOURNAL) == 1, "the acknowledged submit is uncommitted"
    async with db.transaction() as tx:  # and the connection still takes transactions
        await tx.execute("UPDATE jobs SET state = 'queued'")


async def test_a_transaction_cancelled_in_its_begin_is_rolled_back(
    db: SqliteDatabase, tmp_path: Path
) -> None:
    change = SqliteStore(db).update_channel_settings("C1", language="de")
    await cancelled_while_locked(tmp_path / JOURNAL, change)
    assert await LocalQueue(db, concurrency=1).submit(_job(2))
    assert committed_jobs(tmp_path / JOURNAL) == 1


async def test_an_outcome_the_journal_refuses_is_written_once_it_takes_it(
    db: SqliteDatabase, tmp_path: Path
) -> None:
    """A row left `running` would be claimed by nobody until the next start."""
    await db.execute("PRAGMA busy_timeout = 100")  # refused fast, not after 5 s
    queue = LocalQueue(db, concurrency=1)
    blocker = sqlite3.connect(tmp_path / JOURNAL, isolation_level=None)

    async def handler(job: Job, attempt: int) -> Outcome:
        blocker.execute("BEGIN IMMEDIATE")  # another process writes as the job ends
        return "done"

    await queue.submit(_job(3))
    await queue.start(handler)
    try:
        await asyncio.sleep(0.5)  # the outcome's write has been refused by now
        assert await queue.in_flight() == 1
        blocker.execute("ROLLBACK")
        await wait_for(lambda: committed_states(tmp_path / JOURNAL) == ["done"], timeout=10)
        await queue.check()  # and the worker is still there
    finally:
        blocker.close()
        await queue.shutdown(1)


def committed_states(path: Path) -> list[str]:
    other = sqlite3.connect(path)
    try:
        return [str(r[0]) for r in other.execute("SELECT state FROM jobs")]
    finally:
        other.close()
