"""Scaled-out job queue: arq on Redis. Web instances submit; `slack-scribe worker`s consume.

How it keeps "acknowledged → finished exactly once" across processes and machines:

- `submit` writes our job record (`scribe:job:<id>`, the dedup record, TTL
  SCRIBE_RETENTION_DAYS) and arq's job (`arq:job:<id>` + the queue sorted set) in one
  MULTI, WATCHing both keys: a duplicate from any instance gets False, and there is no
  moment where one exists without the other. arq's own result key is not kept
  (keep_result=0): it would stop deduping after its TTL, ours does not.
- The worker side (`bot.queue.redis_worker`) holds each running job by a lease: arq's
  in-progress key plus an owner token that only the owning run renews. A worker killed
  with kill -9 loses the job to another worker within one lease; the new run sees
  attempt ≥ 2 and posts only what is not yet in the thread.
- SIGTERM: the worker stops picking jobs, waits SCRIBE_SHUTDOWN_GRACE_S for running ones,
  then cancels the rest; arq puts a cancelled job straight back for another worker.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from arq.constants import in_progress_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis
from redis.exceptions import WatchError

from bot.jobs.spec import Job
from bot.queue.base import JobHandler
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
        key, arq_key = job_key(job.id), f"arq:job:{job.id}"
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key, arq_key)
            if await pipe.exists(key, arq_key):
                await pipe.reset()  # type: ignore[no-untyped-call]
                return False
            record = {"channel_id": job.channel_id, "created_at": job.created_at}
            # WatchError: another instance submitted it between our check and our write.
            return await self._enqueue(pipe, job, record)

    async def resubmit(self, job: Job, *, also_done: bool = False) -> bool:
        key = job_key(job.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            state, spec = await pipe.hmget(key, ["state", "spec"])  # type: ignore[misc]
            if state not in (("failed", "done") if also_done else ("failed",)):
                await pipe.reset()  # type: ignore[no-untyped-call]
                return False
            again = job.model_copy(
                update={
                    "retry": _previous_retry(spec) + 1,
                    "transient_failures": 0,
                    "transient_since": None,
                }
            )
            return await self._enqueue(pipe, again, {}, clear_error=True)

    async def _enqueue(
        self, pipe: Any, job: Job, record: dict[str, Any], *, clear_error: bool = False
    ) -> bool:
        """In the WATCHed transaction: our record queued, and arq's job and queue entry.

        There is no moment where one exists without the other; False when a WATCHed key
        changed meanwhile (another instance got there first).
        """
        key = job_key(job.id)
        now = time.time()
        enqueued_ms = int(now * 1000)
        spec = job.model_dump_json()
        payload = serialize_job(ARQ_FUNCTION, (spec,), {}, None, enqueued_ms, serializer=dump_arq)
        pipe.multi()
        pipe.hset(
            key,
            mapping=record | {"spec": spec, "state": "queued", "attempts": 0, "updated_at": now},
        )
        if clear_error:
            pipe.hdel(key, "last_error")
        pipe.expire(key, self._retention_s)
        pipe.psetex(f"arq:job:{job.id}", self._retention_s * 1000, payload)
        pipe.zadd(QUEUE_NAME, {job.id: enqueued_ms})
        try:
            await pipe.execute()
        except WatchError:
            return False
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

    async def latest_spec(self, job: Job) -> Job:
        """The job as its last run left it: a deferred run updates our record, not arq's."""
        spec = await self._redis.hget(job_key(job.id), "spec")  # type: ignore[misc]
        if not spec:
            return job
        try:
            return Job.model_validate_json(spec)
        except ValueError:
            return job

    async def defer(self, job: Job) -> None:
        """Record a deferred run: the updated spec, queued, attempts from 0 (no crash)."""
        key = job_key(job.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "spec": job.model_dump_json(),
                    "state": "queued",
                    "attempts": 0,
                    "updated_at": time.time(),
                },
            )
            pipe.expire(key, self._retention_s)
            pipe.srem(RUNNING_KEY, job.id)
            await pipe.execute()

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


def _previous_retry(spec: str | None) -> int:
    try:
        return Job.model_validate_json(spec or "").retry
    except ValueError:
        return 0
