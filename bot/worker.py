"""`slack-scribe worker` (Redis mode): a process that runs jobs and listens to no Slack."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.app import Runtime, load_job_code
from bot.backends import retention_s
from bot.queue.base import JobHandler
from bot.queue.redis import RedisQueue
from bot.queue.redis_worker import RedisWorker
from bot.settings import Settings

logger = logging.getLogger(__name__)


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
