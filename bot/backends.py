"""Redis mode: the shared store and queue for web instances, and the `slack-scribe worker` loop.

`open_redis_backend` is what `bot.app.open_backend` uses when REDIS_URL is set; `run_worker`
is the `worker` command. The pieces live in `bot.store.redis` and `bot.queue.redis`.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from redis.asyncio import Redis

from bot.queue.base import JobHandler
from bot.queue.redis import RedisQueue, RedisWorker
from bot.settings import Settings
from bot.store.redis import RedisStore

logger = logging.getLogger(__name__)


def retention_s(settings: Settings) -> int:
    return settings.scribe_retention_days * 86_400


async def open_redis_backend(settings: Settings) -> tuple[RedisStore, RedisQueue]:
    """Store and queue on one connection pool (closed by the store's `close`)."""
    assert settings.redis_url, "open_redis_backend needs REDIS_URL"
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        await redis.ping()  # fail at start-up, not on the first Slack event
    except Exception:
        await redis.aclose()
        raise
    keep = retention_s(settings)
    return RedisStore(redis, retention_s=keep), RedisQueue(redis, retention_s=keep)


def build_worker(settings: Settings, queue: RedisQueue, handler: JobHandler) -> RedisWorker:
    """A worker that runs `handler` (a `Runtime`'s pipeline) on jobs from `queue`."""
    assert settings.redis_url, "the worker needs REDIS_URL"
    return RedisWorker(
        queue,
        handler,
        redis_url=settings.redis_url,
        concurrency=settings.scribe_max_concurrency,
        lease_s=settings.scribe_worker_lease_s,
        job_budget_s=settings.scribe_job_budget_s,
        retention_s=retention_s(settings),
    )


async def run_worker(settings: Settings) -> int:
    """`slack-scribe worker`: process jobs until SIGTERM/SIGINT, then stop gracefully."""
    from bot.app import Runtime, load_job_code

    runtime = await Runtime.create(settings)
    await load_job_code()
    if not isinstance(runtime.queue, RedisQueue):
        await runtime.close()
        raise RuntimeError("the worker needs REDIS_URL")
    worker = build_worker(settings, runtime.queue, runtime.pipeline)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    code = 0
    try:
        await worker.start()
        logger.info(
            "worker started: %d job(s) at a time, lease %.0f s",
            settings.scribe_max_concurrency,
            settings.scribe_worker_lease_s,
        )
        stopped = asyncio.create_task(stop.wait())
        polling = asyncio.create_task(worker.wait())
        done, _ = await asyncio.wait({stopped, polling}, return_when=asyncio.FIRST_COMPLETED)
        if polling in done:
            exc = polling.exception()
            logger.error("the worker stopped by itself: %r", exc)
            code = 1
        else:
            logger.info("stopping: finishing running jobs, leaving the rest queued")
            polling.cancel()
        stopped.cancel()
        await worker.stop(settings.scribe_shutdown_grace_s)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runtime.close()
    return code
