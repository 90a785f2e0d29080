"""The job queue, behind one small protocol with two implementations.

Embedded: `bot.queue.local.LocalQueue` (SQLite journal + asyncio workers in the
same process). Scaled out: `bot.queue.redis.RedisQueue` (arq). The pipeline only
sees `JobHandler`; handlers only see `JobQueue.submit`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.jobs.spec import Job


@dataclass(frozen=True)
class Deferred:
    """Run `job` (its spec as updated by this run) again at `due_at` (epoch seconds).

    The job leaves its worker slot meanwhile: the queue holds it, durably, until it is due.
    """

    job: Job
    due_at: float


Outcome = Literal["done", "failed"] | Deferred

#: A job whose process died this many times is not run again: the handler is still
#: called (attempt > MAX_ATTEMPTS) so that it tells the people in the thread.
MAX_ATTEMPTS = 3

#: Processes one job. `attempt` counts from 1; a job resumed after a crash sees 2+.
#: It must not raise for failures it reported to the user; it returns the outcome.
JobHandler = Callable[[Job, int], Awaitable[Outcome]]


class JobQueue(Protocol):
    #: Whether this process runs the queue's jobs (it then loads the media and Gemini code).
    consumes_here: bool

    async def submit(self, job: Job) -> bool:
        """Journal the job durably; False when a job with this id already exists (dedup)."""

    async def resubmit(self, job: Job, *, also_done: bool = False) -> bool:
        """Queue a job that failed again, under its id (a person asked for another try).

        False when the job is not in the `failed` state (queued, running, done or unknown),
        so two requests after one failure start one run; `also_done`: a finished job too
        (a transcript asked for again with other options). The spec is replaced by `job`
        with `retry` counted up.
        """

    async def depth(self) -> int:
        """Jobs waiting to run."""

    async def in_flight(self) -> int:
        """Jobs running now (in this process for the local queue, anywhere for Redis)."""

    async def check(self) -> None:
        """Raise if this process's part of the queue cannot work (e.g. a worker died)."""

    async def start(self, handler: JobHandler) -> None:
        """Start consuming jobs in this process (no-op for queues consumed by workers)."""

    async def shutdown(self, grace_s: float) -> None:
        """Stop taking jobs; let running ones finish within grace_s; leave the rest queued."""


class LeaseLost(Exception):
    """Another worker owns this job now: this run must stop and post nothing more."""


class Lease(Protocol):
    async def confirm(self) -> None:
        """Raise `LeaseLost` unless this run still owns its job (and extend the claim)."""


#: The lease of the job running in this task, set by queues whose jobs can move between
#: workers (Redis); the local queue runs each job in one process and sets none.
current_lease: ContextVar[Lease | None] = ContextVar("scribe_current_lease", default=None)


async def confirm_lease() -> None:
    """Call before anything a second owner would repeat (posting in a thread)."""
    lease = current_lease.get()
    if lease is not None:
        await lease.confirm()
