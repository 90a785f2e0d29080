"""Prometheus metrics, on a registry of their own so tests can build several apps."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from bot.gemini.config import Usage

_STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class Metrics:
    """Every metric of one process; `render()` is the /metrics body.

    Stages: `ack` (Slack's HTTP answer), `download`, `prepare`, `gemini`, `post` and
    `total` (one whole job). Tokens are summed from the usage Gemini's answers report;
    the cost is an estimate from the prices in the settings.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Counter(
            "scribe_jobs", "Finished jobs by kind and outcome", ["kind", "outcome"], registry=r
        )
        self.failures = Counter(
            "scribe_job_failures", "Failed jobs by reason", ["reason"], registry=r
        )
        self.retries = Counter(
            "scribe_job_retries",
            "Jobs put back with a due time after a transient failure, by reason",
            ["reason"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "scribe_stage_seconds",
            "Time spent per pipeline stage",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("scribe_queue_depth", "Jobs waiting", registry=r)
        self.in_flight = Gauge("scribe_jobs_in_flight", "Jobs running", registry=r)
        self.audio_minutes = Counter(
            "scribe_audio_minutes", "Minutes of audio transcribed", registry=r
        )
        self.gemini_tokens = Counter(
            "scribe_gemini_tokens",
            "Gemini tokens from the answers' usage",
            ["direction"],
            registry=r,
        )
        self.gemini_cost = Counter(
            "scribe_gemini_cost_usd", "Estimated Gemini cost (prices from settings)", registry=r
        )
        self.events = Counter(
            "scribe_slack_requests", "Slack requests handled by kind", ["kind"], registry=r
        )

        # Series that exist from the start, so rate() and alerts see a 0 before the first job.
        for outcome in ("done", "failed"):
            self.jobs.labels(kind="transcribe", outcome=outcome)
        for direction in ("input", "output"):
            self.gemini_tokens.labels(direction=direction)
        for stage in ("download", "prepare", "gemini", "post", "total"):
            self.stage_seconds.labels(stage=stage)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def count_usage(
        self, usage: Usage, duration_s: float, *, price_in: float, price_out: float
    ) -> None:
        """Audio minutes, tokens by direction, and the estimated cost of one job's requests."""
        self.audio_minutes.inc(duration_s / 60.0)
        self.gemini_tokens.labels(direction="input").inc(usage.input_tokens)
        self.gemini_tokens.labels(direction="output").inc(usage.output_tokens)
        self.gemini_tokens.labels(direction="thought").inc(usage.thought_tokens)
        # Gemini bills thinking as output. Prices are USD per million tokens.
        self.gemini_cost.inc(
            usage.input_tokens / 1e6 * price_in + usage.billable_output_tokens / 1e6 * price_out
        )

    @contextlib.contextmanager
    def stage(self, stage: str) -> Iterator[None]:
        """Time a stage of a job into `scribe_stage_seconds`."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.stage_seconds.labels(stage=stage).observe(time.monotonic() - started)
