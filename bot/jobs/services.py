"""What a job may use, built once by the composition root (`bot.app`) and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.gemini.config import Usage
    from bot.jobs.transcriber import Transcriber
    from bot.media.pool import MediaPool
    from bot.ops.metrics import Metrics
    from bot.queue.base import JobQueue
    from bot.settings import Settings
    from bot.slack.replies import Replies
    from bot.store.base import Store


@dataclass(frozen=True)
class PipelineConfig:
    api_url: str
    bot_token: str
    max_file_bytes: int
    max_audio_minutes: float
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0
    tmp_dir: str | None = None
    #: Chunks are planned in multiples of this (SCRIBE_MAX_CONCURRENCY).
    gemini_concurrency: int = 4
    #: Wall-clock limit for one job, all stages (SCRIBE_JOB_BUDGET_S).
    job_budget_s: float = 1800.0
    #: Transient failures are retried with due times for this long (SCRIBE_RETRY_WINDOW_S).
    retry_window_s: float = 900.0
    retry_first_delay_s: float = 15.0
    #: The least time between two edits of a job's status message.
    status_interval_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineConfig:
        token = settings.slack_bot_token
        return cls(
            api_url=settings.slack_api_url,
            bot_token=token.get_secret_value() if token else "",
            max_file_bytes=settings.max_file_bytes,
            max_audio_minutes=settings.scribe_max_audio_minutes,
            price_input_per_mtok=settings.scribe_price_input_per_mtok,
            price_output_per_mtok=settings.scribe_price_output_per_mtok,
            tmp_dir=settings.scribe_tmp_dir,
            gemini_concurrency=settings.scribe_max_concurrency,
            job_budget_s=settings.scribe_job_budget_s,
            retry_window_s=settings.scribe_retry_window_s,
            retry_first_delay_s=settings.scribe_retry_first_delay_s,
            status_interval_s=settings.scribe_status_interval_s,
        )


@dataclass(frozen=True)
class JobServices:
    """The clients, stores and settings of the jobs of one process."""

    #: Web API reads (files.info, conversations.*, users.info); posting goes through replies.
    slack: AsyncWebClient
    replies: Replies
    #: Downloads of Slack files (the token-safe `download_slack_file`).
    http: aiohttp.ClientSession
    store: Store
    queue: JobQueue
    transcriber: Transcriber
    metrics: Metrics
    config: PipelineConfig
    #: Worker processes that probe, transcode and split (off this process's GIL).
    media: MediaPool

    def count_usage(self, usage: Usage, duration_s: float) -> None:
        self.metrics.count_usage(
            usage,
            duration_s,
            price_in=self.config.price_input_per_mtok,
            price_out=self.config.price_output_per_mtok,
        )
