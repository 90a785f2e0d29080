"""Composition root: builds every client, the store, the queue and the Bolt app from Settings.

Nothing here runs at import time; `Runtime.create` is called by the CLI (and by
tests, with settings that point at the emulators).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from dataclasses import dataclass, field

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.backends import EmbeddedJobs, open_backend
from bot.gemini.config import GeminiConfig
from bot.gemini.lazy import LazyGeminiTranscriber
from bot.jobs.pipeline import Pipeline
from bot.jobs.services import JobServices, PipelineConfig
from bot.jobs.transcriber import Transcriber
from bot.media.pool import MediaPool
from bot.ops.metrics import Metrics
from bot.ops.retention import purge_periodically
from bot.queue.base import JobQueue
from bot.settings import Settings
from bot.slack.controls import TranscriptControls
from bot.slack.intake import Intake, IntakeConfig
from bot.slack.permissions import Permissions
from bot.slack.removal import Removal
from bot.slack.replies import Replies
from bot.store.base import Store
from handlers import register_handlers

logger = logging.getLogger(__name__)

#: Embedded mode: channel settings change only in the serving process (which updates its
#: copy at once); this bound only covers someone editing the database by hand.
EMBEDDED_SETTINGS_TTL_S = 10.0
#: Slack Web API calls give up after this long (the SDK default is 30 s).
SLACK_TIMEOUT_S = 30
#: Downloads of large recordings may take minutes; only a stalled read is an error.
DOWNLOAD_READ_TIMEOUT_S = 60


def build_slack_client(settings: Settings, *, wait_out_rate_limits: bool = True) -> AsyncWebClient:
    """Web API client with slack_sdk's retry handlers for 429s, 5xx and dropped connections."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    if wait_out_rate_limits:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=5))
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_S,
        retry_handlers=handlers,
    )


@dataclass
class Runtime:
    """Everything a running process holds; `close()` releases it."""

    settings: Settings
    slack: AsyncWebClient
    http: aiohttp.ClientSession
    transcriber: Transcriber
    store: Store
    queue: JobQueue
    pipeline: Pipeline
    intake: Intake
    controls: TranscriptControls
    removal: Removal
    metrics: Metrics
    media: MediaPool
    purger: asyncio.Task[None] | None = field(default=None, init=False)

    @classmethod
    async def create(
        cls,
        settings: Settings,
        *,
        transcriber: Transcriber | None = None,
        embedded_jobs: EmbeddedJobs = "here",
    ) -> Runtime:
        """Everything from the settings; `transcriber` replaces Gemini (tests, other backends).

        `embedded_jobs` (SQLite mode): where this process's jobs run (`bot.backends`).
        """
        metrics = Metrics()
        slack = build_slack_client(settings)
        http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=30, sock_read=DOWNLOAD_READ_TIMEOUT_S
            )
        )
        store, queue = await open_backend(settings, embedded_jobs=embedded_jobs)
        # The SDK is loaded by the first job: web-only processes never pay for it.
        transcriber = transcriber or LazyGeminiTranscriber(
            GeminiConfig.from_settings(settings), concurrency=settings.scribe_max_concurrency
        )
        # Worker processes start with the first job, or at start_workers (serve, socket).
        media = MediaPool(settings.scribe_media_workers)
        replies = Replies(
            slack, decor=build_slack_client(settings, wait_out_rate_limits=False), http=http
        )
        services = JobServices(
            slack=slack,
            replies=replies,
            http=http,
            store=store,
            queue=queue,
            transcriber=transcriber,
            metrics=metrics,
            config=PipelineConfig.from_settings(settings),
            media=media,
        )
        pipeline = Pipeline(services)
        # Listeners ask Slack for roles while it waits for their answer: no waiting out 429s.
        permissions = Permissions(
            build_slack_client(settings, wait_out_rate_limits=False), admins=settings.admin_ids
        )
        intake = Intake(
            queue=queue,
            store=store,
            config=IntakeConfig(
                auto_transcribe=settings.scribe_auto_transcribe,
                answer_other_bots=settings.scribe_answer_other_bots,
                settings_ttl_s=0.0 if settings.redis_url else EMBEDDED_SETTINGS_TTL_S,
            ),
            permissions=permissions,
        )
        controls = TranscriptControls(queue=queue, store=store, slack=slack)
        removal = Removal(
            queue=queue,
            store=store,
            permissions=permissions,
            delete_with_source=settings.scribe_delete_with_source,
        )
        return cls(
            settings,
            slack,
            http,
            transcriber,
            store,
            queue,
            pipeline,
            intake,
            controls,
            removal,
            metrics,
            media,
        )

    def bolt_app(self) -> AsyncApp:
        """The Bolt app with every listener registered.

        `process_before_response=True`: the listener journals the job before Slack gets
        its answer, so an acknowledged request is never lost. Listeners only write to
        the journal, so the answer still comes back in milliseconds.
        """
        secret = self.settings.slack_signing_secret
        app = AsyncApp(
            client=self.slack,
            signing_secret=secret.get_secret_value() if secret else None,
            process_before_response=True,
            request_verification_enabled=secret is not None,
            ignoring_self_events_enabled=True,
        )
        register_handlers(app, self.intake, self.controls, self.removal)
        return app

    async def start_workers(self) -> None:
        if self.queue.consumes_here:
            await asyncio.gather(load_job_code(), self.media.start())
        await self.queue.start(self.pipeline)
        self.purger = asyncio.create_task(
            purge_periodically(self.store, self.settings.scribe_retention_days)
        )

    async def close(self) -> None:
        if self.purger is not None:
            self.purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.purger
        await self.queue.shutdown(self.settings.scribe_shutdown_grace_s)
        self.media.close()  # after the jobs: a job still preparing was cancelled above
        await self.store.close()
        await self.http.close()
        await self.transcriber.aclose()


async def load_job_code() -> None:
    """Load the Gemini SDK before the first job, in a thread.

    Loaded on first use instead, its imports compete with the event loop for the GIL
    while a burst of events waits for its acks (bench/burst.py: ack p99 1.45 s instead
    of 0.63 s, when PyAV and numpy were loaded here too). PyAV and numpy are loaded only
    by the media worker processes (bot.media.pool); processes that run no jobs (web-only,
    Redis mode) load none of them.
    """
    await asyncio.to_thread(importlib.import_module, "bot.gemini.client")
