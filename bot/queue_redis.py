"""Scaled-out job queue: arq on Redis. Web instances submit; `slack-scribe worker`s consume.

How it keeps "acknowledged → finished exactly once" across processes and machines:

- `submit` writes our job record (`scribe:job:<id>`, the dedup record, TTL
  SCRIBE_RETENTION_DAYS) and arq's job (`arq:job:<id>` + the queue sorted set) in one
  MULTI, WATCHing both keys: a duplicate from any instance gets False, and there is no
  moment where one exists without the other. arq's own result key is not kept
  (keep_result=0): it would stop deduping after its TTL, ours does not.
- arq runs a job only while `arq:in-progress:<id>` exists for it. arq sets that key for the
  job timeout + 10 s, which would leave a dead worker's job stuck for the whole budget
  (30 min by default). Instead the key is a lease of SCRIBE_WORKER_LEASE_S, set at the
  claim and renewed by the running job every third of that: a live worker keeps it, a worker killed with
  kill -9 stops renewing, the key expires, and the next poll of another worker picks the
  job up (it stays in arq's queue until it finishes). The pipeline then sees attempt ≥ 2 and
  looks for its reply marker in the thread, so the reply is posted once.
- SIGTERM: the worker stops picking jobs, waits SCRIBE_SHUTDOWN_GRACE_S for running ones,
  then cancels the rest; arq puts a cancelled job straight back for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from arq.jobs import serialize_job
from arq.worker import Retry, Worker, func
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from bot.job_spec import Job
from bot.queue import MAX_ATTEMPTS, JobHandler, Outcome
from bot.store_redis import PREFIX, job_key

logger = logging.getLogger(__name__)

#: Our own queue name, so another arq application on the same Redis cannot take our jobs.
QUEUE_NAME = f"{PREFIX}queue"
#: The one arq function: it gets the Job as JSON.
ARQ_FUNCTION = "scribe_job"
#: Jobs running anywhere (members are job ids; in_flight() checks each one's lease).
RUNNING_KEY = f"{PREFIX}running"
#: How often an idle worker looks at the queue; arq has no push. Four reads a second per
#: worker is nothing for Redis and keeps a job's wait for a free worker short.
POLL_DELAY_S = 0.25
#: How often a worker writes arq's health-check key (`arq --check` reads it).
HEALTH_CHECK_INTERVAL_S = 60
#: A job that could not even be marked running (Redis unreachable) goes back for this long.
RETRY_AFTER_REDIS_ERROR_S = 5.0
#: arq's hard limit on one run, above the pipeline's own budget: only a job that ignores
#: its budget is stopped here (and recorded as failed).
JOB_TIMEOUT_MARGIN_S = 60.0


def dump_arq(data: dict[str, Any]) -> bytes:
    """arq's payloads as JSON, not pickle: whoever can write to Redis cannot run code here."""
    return json.dumps(data, separators=(",", ":")).encode()


def load_arq(raw: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(raw)
    return loaded


class RedisQueue:
    """`bot.queue.JobQueue` on arq. `start` is a no-op: `RedisWorker` consumes."""

    def __init__(self, redis: Redis, *, retention_s: int) -> None:
        self._redis = redis
        self._retention_s = retention_s

    async def submit(self, job: Job) -> bool:
        key = job_key(job.id)
        arq_key = f"arq:job:{job.id}"
        now = time.time()
        enqueued_ms = int(now * 1000)
        payload = serialize_job(
            ARQ_FUNCTION, (job.model_dump_json(),), {}, None, enqueued_ms, serializer=dump_arq
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key, arq_key)
            if await pipe.exists(key, arq_key):
                await pipe.reset()  # type: ignore[no-untyped-call]
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(
                key,
                mapping={
                    "spec": job.model_dump_json(),
                    "channel_id": job.channel_id,
                    "state": "queued",
                    "attempts": 0,
                    "created_at": job.created_at,
                    "updated_at": now,
                },
            )
            pipe.expire(key, self._retention_s)
            pipe.psetex(arq_key, self._retention_s * 1000, payload)
            pipe.zadd(QUEUE_NAME, {job.id: enqueued_ms})
            try:
                await pipe.execute()
            except WatchError:
                return False  # another instance submitted it between our check and write
        return True

    async def depth(self) -> int:
        queued = int(await self._redis.zcard(QUEUE_NAME))  # running jobs stay in it until done
        return max(0, queued - await self.in_flight())

    async def in_flight(self) -> int:
        ids = [str(m) for m in await self._redis.smembers(RUNNING_KEY)]  # type: ignore[misc]
        if not ids:
            return 0
        # A job counts while its lease is held: a dead worker's job stops counting when its
        # lease runs out, not when someone cleans up.
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.exists(in_progress_key_prefix + job_id)
            held = await pipe.execute()
        return sum(1 for h in held if h)

    async def check(self) -> None:
        """Web instances run no jobs; Redis itself is checked by the store's ping."""

    async def start(self, handler: JobHandler) -> None:
        """Web instances only enqueue; `slack-scribe worker` runs the jobs."""

    async def shutdown(self, grace_s: float) -> None:
        """Nothing runs here (workers shut down through `RedisWorker.stop`)."""

    # -- bookkeeping for the worker -------------------------------------------------------

    async def begin(self, job: Job) -> int:
        """Mark the job running; return its attempt number (1 for the first start)."""
        key = job_key(job.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            # The record is normally there; recreate its fixed fields if it was purged.
            pipe.hsetnx(key, "spec", job.model_dump_json())
            pipe.hsetnx(key, "channel_id", job.channel_id)
            pipe.hsetnx(key, "created_at", str(job.created_at))
            pipe.hincrby(key, "attempts", 1)
            pipe.hset(key, mapping={"state": "running", "updated_at": time.time()})
            pipe.expire(key, self._retention_s)
            pipe.sadd(RUNNING_KEY, job.id)
            results = await pipe.execute()
        return int(results[3])

    async def finish(self, job_id: str, state: str, error: str | None = None) -> None:
        key = job_key(job_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"state": state, "updated_at": time.time()})
            if error is None:
                pipe.hdel(key, "last_error")
            else:
                pipe.hset(key, "last_error", error)
            pipe.expire(key, self._retention_s)  # the dedup record outlives the job by this
            pipe.srem(RUNNING_KEY, job_id)
            await pipe.execute()


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
                    # Our own attempt count gives up first (and records it); arq's limit
                    # is only a backstop.
                    max_tries=MAX_ATTEMPTS + 1,
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
            max_tries=MAX_ATTEMPTS + 1,
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
        job = Job.model_validate_json(spec)
        try:
            attempt = await self._queue.begin(job)
        except RedisError as exc:
            # Not started: have arq put it back rather than count it as failed (and drop it).
            logger.warning("job %s: could not mark it running (%s); retrying soon", job.id, exc)
            raise Retry(defer=RETRY_AFTER_REDIS_ERROR_S) from exc
        lease = asyncio.create_task(self._hold_lease(job.id), name=f"lease-{job.id}")
        try:
            # Stop the job ourselves just before arq would, so that the record says why.
            async with asyncio.timeout(self._job_timeout_s - JOB_TIMEOUT_MARGIN_S / 2):
                outcome = await self._handler(job, attempt)
        except TimeoutError:
            logger.error("job %s ran past its time budget; stopped", job.id)
            await self._queue.finish(job.id, "failed", "ran past its time budget")
            return "failed"
        except asyncio.CancelledError:
            # Shutdown past the grace period: arq re-queues the job; say so in the record.
            await asyncio.shield(self._queue.finish(job.id, "queued"))
            raise
        except Exception:
            logger.exception("job %s crashed", job.id)
            outcome = "failed"
        finally:
            lease.cancel()
            await asyncio.gather(lease, return_exceptions=True)
        await self._queue.finish(job.id, outcome)
        return outcome

    async def _hold_lease(self, job_id: str) -> None:
        assert self._pool is not None
        key = in_progress_key_prefix + job_id
        lease_ms = int(self._lease_s * 1000)
        while True:
            try:
                if not await self._pool.pexpire(key, lease_ms):
                    logger.warning("job %s: lease lost (another worker may take it)", job_id)
            except RedisError as exc:
                logger.warning("job %s: could not renew the lease: %s", job_id, exc)
            await asyncio.sleep(self._lease_s / 3)
