"""`RedisWorker`: runs the jobs of the Redis queue in this process, each under a lease.

arq runs a job only while `arq:in-progress:<id>` exists for it. arq sets that key for the
job timeout + 10 s, which would leave a dead worker's job stuck for the whole budget; here
it is a lease of SCRIBE_WORKER_LEASE_S, renewed every third of that by the run that owns
the job (a token in `lease_key`). A worker killed with kill -9 stops renewing, the key
expires, and another worker's next poll picks the job up. A worker that stalled past its
lease finds at its next renewal that the token is no longer its own: it cancels its run,
which posts nothing more (`Replies.post` confirms the lease), and leaves the job to the
new owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any, NoReturn

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from arq.worker import Retry, Worker, func
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.jobs.spec import Job
from bot.queue.base import Deferred, JobHandler, LeaseLost, Outcome, current_lease
from bot.queue.redis import (
    ARQ_FUNCTION,
    HEALTH_CHECK_INTERVAL_S,
    JOB_TIMEOUT_MARGIN_S,
    POLL_DELAY_S,
    QUEUE_NAME,
    RETRY_AFTER_REDIS_ERROR_S,
    RedisQueue,
    dump_arq,
    lease_key,
    load_arq,
)

logger = logging.getLogger(__name__)

#: arq's own try limit, high enough never to be what stops a job: a run of arq past it
#: fails without calling us, so nobody would be told. Crash loops end by our count
#: (`MAX_ATTEMPTS`); deferred runs end by SCRIBE_RETRY_WINDOW_S.
ARQ_MAX_TRIES = 1000


#: Extend our lease and arq's claim only while the token is still ours. arq's key is SET,
#: not just extended: a previous owner that gave the job up deletes it on its way out.
_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
    return 1
end
return 0
"""


class RedisLease:
    """`bot.queue.base.Lease` of one run: a token in Redis that only this run renews."""

    def __init__(self, redis: Redis, job_id: str, owner: str, lease_s: float) -> None:
        self._redis = redis
        self._keys = [lease_key(job_id), in_progress_key_prefix + job_id]
        self._owner = owner
        self._lease_ms = int(lease_s * 1000)
        self.lost = False

    async def renew(self) -> bool:
        """Extend the lease; False (and `lost`) once another run owns the job."""
        held = await self._redis.eval(  # type: ignore[misc]
            _RENEW_LUA, 2, *self._keys, self._owner, str(self._lease_ms)
        )
        if not held:
            self.lost = True
        return bool(held)

    async def confirm(self) -> None:
        if self.lost or not await self.renew():
            raise LeaseLost("another worker owns this job now")


class RedisWorker:
    """Consumes the queue in this process: an arq `Worker` around the pipeline."""

    def __init__(
        self,
        queue: RedisQueue,
        handler: JobHandler,
        *,
        redis_url: str,
        concurrency: int,
        lease_s: float,
        job_budget_s: float,
        retention_s: int,
    ) -> None:
        self._queue = queue
        self._handler = handler
        self._redis_url = redis_url
        self._concurrency = concurrency
        self._lease_s = lease_s
        self._job_timeout_s = job_budget_s + JOB_TIMEOUT_MARGIN_S
        self._retention_s = retention_s
        self._pool: ArqRedis | None = None
        self._worker: Worker | None = None
        self._main: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and start polling in a background task."""
        self._pool = await create_pool(
            RedisSettings.from_dsn(self._redis_url),
            job_serializer=dump_arq,
            job_deserializer=load_arq,
            default_queue_name=QUEUE_NAME,
        )
        self._worker = Worker(
            functions=[
                func(
                    self._run_job,  # type: ignore[arg-type]
                    name=ARQ_FUNCTION,
                    timeout=self._job_timeout_s,
                    # Our own attempt count ends crash loops (and tells the thread); arq
                    # would drop a job past its limit without a word, and a deferred job
                    # (automatic retries) uses one arq try per run.
                    max_tries=ARQ_MAX_TRIES,
                    keep_result=0,
                )
            ],
            queue_name=QUEUE_NAME,
            redis_pool=self._pool,
            handle_signals=False,  # the CLI owns SIGTERM and calls stop()
            max_jobs=self._concurrency,
            job_timeout=self._job_timeout_s,
            keep_result=0,
            poll_delay=POLL_DELAY_S,
            max_tries=ARQ_MAX_TRIES,
            health_check_interval=HEALTH_CHECK_INTERVAL_S,
            job_serializer=dump_arq,
            job_deserializer=load_arq,
            expires_extra_ms=self._retention_s * 1000,
            log_results=False,
        )
        # arq claims a job by setting its in-progress key for the job timeout + 10 s; make
        # that the lease too, so a worker that dies between the claim and the first renewal
        # does not hold the job for the whole budget either.
        self._worker.in_progress_timeout_s = self._lease_s
        self._main = asyncio.create_task(self._worker.main(), name="scribe-arq-worker")
        self._worker.main_task = self._main

    async def wait(self) -> None:
        """Return when the worker stops by itself (it only does on an error: raised here)."""
        assert self._main is not None, "start() first"
        await asyncio.shield(self._main)

    async def stop(self, grace_s: float) -> None:
        """Stop taking jobs; let running ones finish within grace_s; requeue the rest."""
        worker = self._worker
        if worker is None:
            return
        worker.allow_pick_jobs = False
        tasks = [t for t in worker.tasks.values() if not t.done()]
        if tasks:
            logger.info("waiting up to %.0f s for %d running job(s)", grace_s, len(tasks))
            _done, pending = await asyncio.wait(tasks, timeout=grace_s)
            if pending:
                logger.warning("%d job(s) still running: handing them back", len(pending))
        # What arq's Worker.close() does, minus its deprecated pool.close(): cancel what is
        # left (arq's run_job hands a cancelled job straight back to the queue), stop the
        # poll loop, drop the health-check key, close the pool.
        for task in worker.tasks.values():
            task.cancel()
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        if self._pool is not None:
            try:
                await self._pool.delete(worker.health_check_key)
            finally:
                await self._pool.aclose()
        self._worker = self._pool = self._main = None

    async def _run_job(self, ctx: dict[str, Any], spec: str) -> Outcome:
        assert self._pool is not None
        owner = secrets.token_hex(8)
        job = Job.model_validate_json(spec)
        try:
            job = await self._queue.latest_spec(job)
            attempt = await self._queue.begin(job, owner=owner, lease_ms=int(self._lease_s * 1000))
        except RedisError as exc:
            # Not started: have arq put it back rather than count it as failed (and drop it).
            logger.warning("job %s: could not mark it running (%s); retrying soon", job.id, exc)
            raise Retry(defer=RETRY_AFTER_REDIS_ERROR_S) from exc
        lease = RedisLease(self._pool, job.id, owner, self._lease_s)
        token = current_lease.set(lease)
        try:
            work: asyncio.Future[Outcome] = asyncio.ensure_future(self._handler(job, attempt))
        finally:
            current_lease.reset(token)
        keeper = asyncio.create_task(self._hold_lease(lease, work), name=f"lease-{job.id}")
        budget = asyncio.timeout(self._job_timeout_s - JOB_TIMEOUT_MARGIN_S / 2)
        try:
            # Stop the job ourselves just before arq would, so that the record says why.
            async with budget:
                outcome = await work
        except TimeoutError:
            if not budget.expired():
                raise
            logger.error("job %s ran past its time budget; stopped", job.id)
            outcome = "failed"
        except asyncio.CancelledError:
            if lease.lost and not _cancelling():
                self._give_up_lost(job.id)
            # Shutdown past the grace period: arq re-queues the job; say so in the record.
            await asyncio.shield(self._queue.finish(job.id, "queued"))
            raise
        except Exception:
            logger.exception("job %s crashed", job.id)
            outcome = "failed"
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        if lease.lost:
            self._give_up_lost(job.id)
        if isinstance(outcome, Deferred):
            try:
                await self._queue.defer(outcome.job)
            except RedisError as exc:
                # The job must not be dropped for it: arq re-runs it with the spec it has
                # (one failure in a row fewer counted, so one more try at most).
                logger.warning("job %s: could not record the deferral (%s)", job.id, exc)
            # arq keeps the job in its queue, due again at that score: no slot is held,
            # and a restart of every worker keeps the due time (it lives in Redis).
            raise Retry(defer=max(0.0, outcome.due_at - time.time()))
        await self._queue.finish(job.id, outcome)
        return outcome

    def _give_up_lost(self, job_id: str) -> NoReturn:
        """Another worker took the job over: leave its record and arq's claim to it."""
        logger.warning("job %s: lease lost; stopped and left to the worker that owns it", job_id)
        # Retry keeps the job in arq's queue, due again only after a whole lease, by which
        # time the new owner has renewed arq's claim (arq deletes it as this run ends).
        raise Retry(defer=self._lease_s)

    async def _hold_lease(self, lease: RedisLease, work: asyncio.Future[Outcome]) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                held = await lease.renew()
            except RedisError as exc:
                logger.warning("could not renew a lease: %s", exc)
                continue
            if not held:
                work.cancel()  # stop posting: the new owner does the job
                return


def _cancelling() -> bool:
    """Whether this task itself is being cancelled (shutdown), not just a job it awaited."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
