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
import secrets
import time
from typing import Any, NoReturn

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from arq.jobs import serialize_job
from arq.worker import Retry, Worker, func
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from bot.jobs.spec import Job
from bot.queue.base import MAX_ATTEMPTS, JobHandler, LeaseLost, Outcome, current_lease
from bot.store.redis import PREFIX, job_key

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


def lease_key(job_id: str) -> str:
    """Who owns a running job: a token per run, next to arq's claim (its in-progress key)."""
    return f"{PREFIX}lease:{job_id}"


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


def dump_arq(data: dict[str, Any]) -> bytes:
    """arq's payloads as JSON, not pickle: whoever can write to Redis cannot run code here."""
    return json.dumps(data, separators=(",", ":")).encode()


def load_arq(raw: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(raw)
    return loaded


class RedisQueue:
    """`bot.queue.base.JobQueue` on arq. `start` is a no-op: `RedisWorker` consumes."""

    consumes_here = False

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

    async def resubmit(self, job: Job) -> bool:
        key = job_key(job.id)
        arq_key = f"arq:job:{job.id}"
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            state, spec = await pipe.hmget(key, ["state", "spec"])  # type: ignore[misc]
            if state != "failed":
                await pipe.reset()  # type: ignore[no-untyped-call]
                return False
            again = job.model_copy(update={"retry": _previous_retry(spec) + 1})
            enqueued_ms = int(time.time() * 1000)
            payload = serialize_job(
                ARQ_FUNCTION, (again.model_dump_json(),), {}, None, enqueued_ms,
                serializer=dump_arq,
            )  # fmt: skip
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(
                key,
                mapping={
                    "spec": again.model_dump_json(),
                    "state": "queued",
                    "attempts": 0,
                    "updated_at": time.time(),
                },
            )
            pipe.hdel(key, "last_error")
            pipe.expire(key, self._retention_s)
            pipe.psetex(arq_key, self._retention_s * 1000, payload)
            pipe.zadd(QUEUE_NAME, {job.id: enqueued_ms})
            try:
                await pipe.execute()
            except WatchError:
                return False  # another instance requeued it first
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

    async def begin(self, job: Job, *, owner: str, lease_ms: int) -> int:
        """Mark the job running and owned by `owner`; return its attempt number (from 1).

        The owner token is overwritten: arq gave this worker the job, so a previous owner
        (stalled past its lease) must find out at its next renewal and stop.
        """
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
            pipe.set(lease_key(job.id), owner, px=lease_ms)
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
        assert self._pool is not None
        owner = secrets.token_hex(8)
        try:
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


def _previous_retry(spec: str | None) -> int:
    try:
        return Job.model_validate_json(spec or "").retry
    except ValueError:
        return 0
