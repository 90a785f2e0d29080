"""Embedded job queue: the SQLite journal plus a pool of asyncio workers.

Jobs wait in the journal, not in memory, so a burst of 10,000 clips costs rows,
not RAM. Workers take channels in turn (see `_CLAIM_SQL`), so one busy channel
cannot starve the rest. A process that dies leaves its
jobs `running`; the next start puts them back in the queue (embedded mode has a
single process per database, so anything `running` at start-up is orphaned).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from bot.jobs.spec import Job
from bot.queue.base import Deferred, JobHandler, Outcome
from bot.queue.journal_lock import ConsumerLock
from bot.store.sqlite_db import SqliteDatabase, dumps

logger = logging.getLogger(__name__)

#: Jobs per group-commit INSERT: 5 parameters each, so 750 per statement, within the 999
#: that SQLite builds before 3.32 allow (newer ones allow 32,766).
_MAX_BATCH = 150

#: Acks first: a worker starts a job only once no event has been journaled for QUIET_S
#: (a burst is over), or after MAX_DEFER_S at most. A job's first steps (Slack calls, the
#: Gemini SDK's request building) run on the event loop and would delay the burst's acks.
_QUIET_S = 0.025
_MAX_DEFER_S = 0.5

#: How often an idle worker looks for deferred jobs that have fallen due.
_POLL_S = 1.0

#: How often a consumer waiting for the journal's lock tries again.
_LOCK_POLL_S = 0.5

#: How often a job process looks for other processes' commits (new jobs).
_WATCH_S = 0.05

#: After an unexpected error (the journal unreachable), a worker waits this long and retries.
_ERROR_PAUSE_S = 1.0
_MAX_RECORD_PAUSE_S = 30.0

#: The next job: from the channel with the fewest running jobs, then the one whose last
#: job started longest ago (round robin), then the oldest job of that channel.
_CLAIM_SQL = """
UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = :now, started_at = :now
WHERE id = (
    SELECT j.id FROM jobs j
    WHERE j.state = 'queued' AND j.due_at <= :now
    ORDER BY
        (SELECT COUNT(*) FROM jobs r WHERE r.channel_id = j.channel_id AND r.state = 'running'),
        COALESCE((SELECT MAX(s.started_at) FROM jobs s WHERE s.channel_id = j.channel_id), 0),
        j.created_at
    LIMIT 1
)
RETURNING id, spec, attempts
"""


class LocalQueue:
    """`bot.queue.base.JobQueue` on the SQLite journal.

    Consumed in this process (`consume=True`), or only written here while a job process
    (`bot.jobrunner`, started by `serve` and `socket`) consumes it: then that process
    watches the journal for other processes' commits (`watch_others=True`).
    """

    def __init__(
        self,
        db: SqliteDatabase,
        *,
        concurrency: int,
        consume: bool = True,
        watch_others: bool = False,
    ) -> None:
        self._db = db
        self._concurrency = concurrency
        #: Whether this process runs the queue's jobs (`JobQueue.consumes_here`).
        self.consumes_here = consume
        self._watch_others = watch_others
        #: Raises if the process that consumes the journal is down (set by its supervisor).
        self.consumer_check: Callable[[], None] | None = None
        self._lock = ConsumerLock(db.path) if consume and db.path else None
        self._starter: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._workers: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[Outcome]] = set()
        # Submits waiting for the next group commit, and the task that writes them.
        self._submits: list[tuple[Job, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._last_submit = 0.0

    async def submit(self, job: Job) -> bool:
        """Journal `job` (False: it was already there); committed before this returns.

        Group commit: submits that arrive while a write is in flight (a burst) wait for
        the next one, and go into the journal together as one INSERT.
        """
        self._last_submit = time.monotonic()
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._submits.append((job, waiter))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_submits())
        return await waiter

    async def _write_submits(self) -> None:
        try:
            while self._submits:
                batch = self._submits[:_MAX_BATCH]
                del self._submits[:_MAX_BATCH]
                try:
                    created = await self._insert(batch)
                except Exception as exc:
                    for _job, waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                seen: set[str] = set()
                for job, waiter in batch:
                    new = job.id in created and job.id not in seen
                    seen.add(job.id)
                    if not waiter.done():  # its caller may have been cancelled
                        waiter.set_result(new)
                if created:
                    self._wake.set()
        finally:
            self._writer = None

    async def _insert(self, batch: list[tuple[Job, asyncio.Future[bool]]]) -> set[str]:
        """One statement (so one transaction) for the batch; the ids it created."""
        now = time.time()
        params: list[object] = []
        for job, _waiter in batch:
            params += [job.id, dumps(job), job.channel_id, job.created_at, now]
        # Only placeholders are joined into the SQL; every value is a bound parameter.
        values = ", ".join(["(?, ?, ?, 'queued', ?, ?)"] * len(batch))
        columns = "jobs(id, spec, channel_id, state, created_at, updated_at)"
        sql = f"INSERT OR IGNORE INTO {columns} VALUES {values} RETURNING id"  # noqa: S608
        rows = await self._db.fetchall(sql, params)
        return {str(row[0]) for row in rows}

    async def resubmit(self, job: Job, *, also_done: bool = False) -> bool:
        states = ["failed", "done"] if also_done else ["failed"]
        marks = ", ".join("?" * len(states))  # only placeholders are joined into the SQL
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                f"SELECT spec FROM jobs WHERE id = ? AND state IN ({marks})",  # noqa: S608
                (job.id, *states),
            )
            if row is None:
                return False
            again = job.model_copy(
                update={
                    "retry": _previous_retry(row[0]) + 1,
                    "transient_failures": 0,
                    "transient_since": None,
                }
            )
            await tx.execute(
                "UPDATE jobs SET spec = ?, state = 'queued', attempts = 0, last_error = NULL, "
                "due_at = 0, updated_at = ? WHERE id = ?",
                (dumps(again), time.time(), job.id),
            )
        self._wake.set()
        return True

    async def depth(self) -> int:
        return await self._count("queued")

    async def in_flight(self) -> int:
        return await self._count("running")

    async def _count(self, state: str) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM jobs WHERE state = ?", (state,))
        return int(row[0]) if row else 0

    async def check(self) -> None:
        """Raise if a worker of this process (or the job process) has stopped."""
        if not self.consumes_here:
            if self.consumer_check is not None:
                self.consumer_check()
            return
        if self._stopping:
            return
        if self._starter is not None and not self._starter.done():
            raise RuntimeError("waiting for another process that runs this journal's jobs")
        for worker in self._workers:
            if worker.done():
                raise RuntimeError(f"worker {worker.get_name()} stopped")

    async def start(self, handler: JobHandler) -> None:
        if not self.consumes_here:
            return  # the job process consumes the journal
        self._stopping = False
        if self._lock is not None and not self._lock.try_acquire():
            logger.warning(
                "another process runs this journal's jobs (%s is locked); waiting for it to end",
                self._lock.path,
            )
            self._starter = asyncio.create_task(self._start_when_alone(handler))
            return
        await self._start_consuming(handler)

    async def _start_when_alone(self, handler: JobHandler) -> None:
        assert self._lock is not None
        while not self._lock.try_acquire():  # noqa: ASYNC110 (a file lock: polled)
            await asyncio.sleep(_LOCK_POLL_S)
        if not self._stopping:
            logger.info("the other process has ended: running this journal's jobs")
            await self._start_consuming(handler)

    async def _start_consuming(self, handler: JobHandler) -> None:
        resumed = await self._db.execute(
            "UPDATE jobs SET state = 'queued', updated_at = ? WHERE state = 'running'",
            (time.time(),),
        )
        if resumed:
            logger.info("resuming %d unfinished job(s)", resumed)
        self._workers = [
            asyncio.create_task(self._work(handler), name=f"scribe-worker-{i}")
            for i in range(self._concurrency)
        ]
        if self._watch_others:
            self._workers.append(
                asyncio.create_task(self._watch_commits(), name="scribe-journal-watch")
            )

    async def _watch_commits(self) -> None:
        """Wake the workers when another process commits to the journal (a new job).

        `PRAGMA data_version` changes when another connection commits, and costs no I/O
        to ask (sqlite.org/pragma.html#pragma_data_version).
        """
        seen = None
        while not self._stopping:
            try:
                row = await self._db.fetchone("PRAGMA data_version")
                version = row[0] if row else None
                if version != seen:
                    seen = version
                    self._wake.set()
            except Exception:
                logger.exception("could not watch the journal; retrying")
            await asyncio.sleep(_WATCH_S)

    async def _claim(self) -> tuple[Job, int] | None:
        """The next job, marked running; a row that cannot be read is failed on the spot."""
        while True:
            row = await self._db.fetchone(_CLAIM_SQL, {"now": time.time()})
            if row is None:
                return None
            job_id, spec, attempts = row
            try:
                return Job.model_validate_json(spec), int(attempts)
            except ValidationError as exc:
                # Written by another release, or damaged: it can never run, and retrying
                # it would block nothing but fill the log at every start.
                logger.error("job %s has an unreadable spec; marked failed: %s", job_id, exc)
                await self._finish(str(job_id), "failed", f"unreadable spec: {exc}"[:500])

    async def _finish(self, job_id: str, state: str, error: str | None = None) -> None:
        await self._db.execute(
            "UPDATE jobs SET state = ?, last_error = ?, updated_at = ? WHERE id = ?",
            (state, error, time.time(), job_id),
        )

    async def _defer(self, deferred: Deferred) -> None:
        """Back in the journal with its due time; attempts restart (this was no crash)."""
        await self._db.execute(
            "UPDATE jobs SET spec = ?, state = 'queued', attempts = 0, due_at = ?, "
            "updated_at = ? WHERE id = ?",
            (dumps(deferred.job), deferred.due_at, time.time(), deferred.job.id),
        )

    async def _work(self, handler: JobHandler) -> None:
        while not self._stopping:
            try:
                await self._work_once(handler)
            except Exception:
                # The journal is unreachable (disk, locks): /healthz reports it; this
                # worker keeps trying rather than leaving the queue without a consumer.
                logger.exception("the job worker hit an error; retrying in %.0f s", _ERROR_PAUSE_S)
                await asyncio.sleep(_ERROR_PAUSE_S)

    async def _work_once(self, handler: JobHandler) -> None:
        await self._after_the_burst()
        claimed = await self._claim()
        if claimed is None:
            self._wake.clear()
            # submit() wakes us; the timeout also picks up deferred jobs as they fall due.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=_POLL_S)
            return
        job, attempt = claimed
        if self._stopping:
            await self._finish(job.id, "queued")
            return
        # Shield the job from this worker's cancellation so shutdown can wait for it.
        task = asyncio.ensure_future(handler(job, attempt))
        self._running.add(task)
        try:
            outcome: Outcome = await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("job %s crashed", job.id)
            outcome = "failed"
        finally:
            self._running.discard(task)
        await self._record_outcome(job.id, outcome)

    async def _record_outcome(self, job_id: str, outcome: Outcome) -> None:
        """Write how the run ended, until the journal takes it.

        A row left `running` is claimed by nobody until the next start: a deferred job
        would never run again, a finished one would run twice after a restart. So a write
        the journal refuses (locked past the busy timeout, a full disk) is tried again.
        """
        pause = _ERROR_PAUSE_S
        while True:
            try:
                if isinstance(outcome, Deferred):
                    await self._defer(outcome)
                else:
                    await self._finish(job_id, outcome)
                return
            except Exception:
                if self._stopping:
                    raise  # the row stays `running`: the next start resumes the job
                logger.exception("could not record how job %s ended; retrying", job_id)
                await asyncio.sleep(pause)
                pause = min(pause * 2, _MAX_RECORD_PAUSE_S)

    async def _after_the_burst(self) -> None:
        deadline = time.monotonic() + _MAX_DEFER_S
        while not self._stopping:
            quiet_at = self._last_submit + _QUIET_S
            now = time.monotonic()
            if now >= quiet_at or now >= deadline:
                return
            await asyncio.sleep(min(quiet_at, deadline) - now)

    async def shutdown(self, grace_s: float) -> None:
        self._stopping = True
        self._wake.set()
        running = list(self._running)
        if running:
            logger.info("waiting up to %.0f s for %d running job(s)", grace_s, len(running))
            _done, pending = await asyncio.wait(running, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        # Let workers record the outcome of what just finished, then stop them.
        if self._workers:
            _finished, idle = await asyncio.wait(self._workers, timeout=2.0)
            for worker in idle:
                worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        # Jobs cancelled mid-way stay 'running' in the journal and resume on the next start.
        self._workers = []
        if self._starter is not None:
            self._starter.cancel()
            await asyncio.gather(self._starter, return_exceptions=True)
            self._starter = None
        if self._lock is not None:
            self._lock.release()  # after the last outcome is written


def _previous_retry(spec: str) -> int:
    try:
        return Job.model_validate_json(spec).retry
    except ValidationError:
        return 0
