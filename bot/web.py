"""HTTP mode: one aiohttp application with the Slack endpoint, health and metrics."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.app import Runtime

logger = logging.getLogger(__name__)

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
BOLT: web.AppKey[AsyncApp] = web.AppKey("bolt", AsyncApp)

#: Longer than SQLite's busy timeout (5 s), so a locked database reports its own error.
HEALTH_TIMEOUT_S = 8.0


async def slack_events(request: web.Request) -> web.Response:
    bolt = request.app[BOLT]
    runtime = request.app[RUNTIME]
    started = time.monotonic()
    bolt_response = await bolt.async_dispatch(await to_bolt_request(request))
    runtime.metrics.stage_seconds.labels(stage="ack").observe(time.monotonic() - started)
    return await to_aiohttp_response(bolt_response)


async def healthz(request: web.Request) -> web.Response:
    """200 when the store takes a write and the queue and its workers answer; else 503."""
    runtime = request.app[RUNTIME]
    part = "database"
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            await runtime.store.ping()
            part = "queue"
            await runtime.queue.check()
            depth = await runtime.queue.depth()
            in_flight = await runtime.queue.in_flight()
    except Exception as exc:
        if isinstance(exc, TimeoutError):
            reason = f"{part}: no answer within {HEALTH_TIMEOUT_S:.0f} s"
        else:
            reason = f"{part}: {type(exc).__name__}: {exc}"
        logger.warning("health check failed: %s", reason)
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)
    runtime.metrics.queue_depth.set(depth)
    return web.json_response({"status": "ok", "queued": depth, "running": in_flight})


async def metrics(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        runtime.metrics.queue_depth.set(await runtime.queue.depth())
    except Exception:
        logger.exception("could not read the queue depth for /metrics")
    return web.Response(
        body=runtime.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def build_web_app(runtime: Runtime, *, start_workers: bool = True) -> web.Application:
    """The aiohttp app; workers start with it and stop (gracefully) on shutdown."""
    app = web.Application()
    app[RUNTIME] = runtime
    app[BOLT] = runtime.bolt_app()
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)

    async def lifecycle(_app: web.Application):  # type: ignore[no-untyped-def]
        if start_workers:
            await runtime.start_workers()
        yield
        await runtime.close()

    app.cleanup_ctx.append(lifecycle)
    return app
