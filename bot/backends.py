"""The store and queue a process works with: SQLite (embedded) or Redis (scaled out)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from bot.queue.base import JobQueue
from bot.settings import Settings
from bot.store.base import Store

if TYPE_CHECKING:
    from bot.queue.redis import RedisQueue
    from bot.store.redis import RedisStore

logger = logging.getLogger(__name__)


def retention_s(settings: Settings) -> int:
    return settings.scribe_retention_days * 86_400


async def open_redis_backend(settings: Settings) -> tuple[RedisStore, RedisQueue]:
    """Store and queue on one connection pool (closed by the store's `close`)."""
    # redis and arq only when asked for: an embedded process never loads them.
    from redis.asyncio import Redis

    from bot.queue.redis import RedisQueue
    from bot.store.redis import RedisStore

    assert settings.redis_url, "open_redis_backend needs REDIS_URL"
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        await redis.ping()  # fail at start-up, not on the first Slack event
    except Exception:
        await redis.aclose()
        raise
    keep = retention_s(settings)
    return RedisStore(redis, retention_s=keep), RedisQueue(redis, retention_s=keep)


#: Where an embedded process's jobs run: here (tests, SCRIBE_JOB_PROCESS=false), in the job
#: process this one supervises (`serve`, `socket`), or this is that job process.
EmbeddedJobs = Literal["here", "job_process", "is_job_process"]


async def open_backend(
    settings: Settings, *, embedded_jobs: EmbeddedJobs = "here"
) -> tuple[Store, JobQueue]:
    """SQLite (embedded) or Redis (scaled out), per the settings."""
    if settings.redis_url:
        return await open_redis_backend(settings)
    from bot.queue.local import LocalQueue
    from bot.store.sqlite import SqliteStore
    from bot.store.sqlite_db import SqliteDatabase

    db = await SqliteDatabase.open(settings.scribe_db)
    queue = LocalQueue(
        db,
        concurrency=settings.scribe_max_concurrency,
        consume=embedded_jobs != "job_process",
        watch_others=embedded_jobs == "is_job_process",
    )
    return SqliteStore(db), queue
