"""Runs one job of any kind and decides how it ends: the failure policy.

Every job ends in exactly one of: its reply (a transcript, an answer, a notice to the
person who asked), a `:warning:` reply that says what went wrong and what to try, or
(automatic jobs on files that are not media) silence. A run that lost its job to another
worker (`LeaseLost`) ends without a word: the new owner reports.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.errors import NO_SOUND_TRACK, NotMediaError, UserFacingError
from bot.jobs.answers import answer_question, ask_after_transcript
from bot.jobs.locate import locate_media
from bot.jobs.services import JobServices
from bot.jobs.spec import Job
from bot.jobs.transcription import transcribe_file
from bot.ops.logs import job_context
from bot.queue.base import MAX_ATTEMPTS, LeaseLost, Outcome
from bot.slack.replies import WORKING

logger = logging.getLogger(__name__)


class Pipeline:
    """Runs jobs; an instance is the `JobHandler` given to the queue."""

    def __init__(self, services: JobServices) -> None:
        self.services = services

    async def __call__(self, job: Job, attempt: int) -> Outcome:
        with job_context(job.id, job.channel_id, job.file_id):
            return await self._run(job, attempt)

    async def _run(self, job: Job, attempt: int) -> Outcome:
        logger.info("job started: %s, attempt %d", job.kind, attempt)
        if attempt > MAX_ATTEMPTS:
            # The process died during each earlier start: do not risk it again.
            logger.error("job gave up after %d starts", attempt - 1)
            self.services.metrics.failures.labels(reason="crash_loop").inc()
            await self.services.replies.report_failure(
                job,
                "I stopped working on this recording: processing it failed repeatedly on my "
                "side. It has been logged for the app's admin; try again later or share a "
                "shorter recording.",
            )
            self.services.metrics.jobs.labels(kind=job.kind, outcome="failed").inc()
            return "failed"
        self.services.metrics.in_flight.inc()
        started = time.monotonic()
        # One limit for the whole job, so that it ends with a message here rather than
        # being cut off silently by a queue's own backstop timeout.
        deadline = asyncio.timeout(self.services.config.job_budget_s)
        try:
            async with deadline:
                if job.kind == "answer":
                    await answer_question(self.services, job, attempt)
                elif job.kind == "locate":
                    await locate_media(self.services, job)
                else:
                    await transcribe_file(self.services, job, attempt)
                    if job.question:  # asked before there was a transcript: answer it now
                        await ask_after_transcript(self.services, job)
            outcome: Outcome = "done"
        except TimeoutError:
            outcome = "failed"
            if deadline.expired():
                logger.warning(
                    "job ran past its budget of %.0f s", self.services.config.job_budget_s
                )
                self.services.metrics.failures.labels(reason="job_budget").inc()
                await self.services.replies.report_failure(
                    job,
                    f"This took longer than the {self.services.config.job_budget_s / 60:.0f} min I allow "
                    "for one recording, so I stopped. Try again later (mention me in this "
                    "thread), or share a shorter recording.",
                )
            else:
                # A client's own limit (a Slack call, the download): as transient as a 503.
                logger.warning("a call timed out", exc_info=True)
                self.services.metrics.failures.labels(reason="timeout").inc()
                await self.services.replies.report_failure(
                    job,
                    "A request to Slack or the download of the file timed out, so I stopped. "
                    "This is usually temporary: mention me in this thread to try again in a "
                    "minute.",
                )
        except LeaseLost:
            raise  # another worker owns the job now: it reports the outcome, not this run
        except NotMediaError as exc:
            logger.info("not media: %s", exc.reason)
            self.services.metrics.failures.labels(reason=exc.reason).inc()
            # Slack called it audio or video, so its sharer expects a transcript; only a
            # video without sound (screen recordings) is no failure when nobody asked.
            if job.requested or exc.reason != NO_SOUND_TRACK:
                await self.services.replies.report_failure(job, str(exc))
            else:
                await self.services.replies.react(job, remove=WORKING)
            outcome = "failed"
        except UserFacingError as exc:
            logger.info("job failed: %s (%s)", exc.reason, exc)
            self.services.metrics.failures.labels(reason=exc.reason).inc()
            await self.services.replies.report_failure(job, str(exc))
            outcome = "failed"
        except Exception:
            logger.exception("job crashed")
            self.services.metrics.failures.labels(reason="internal").inc()
            await self.services.replies.report_failure(
                job,
                "Something went wrong on my side while working on this. It has been logged; "
                "mention me in this thread to try again.",
            )
            outcome = "failed"
        finally:
            self.services.metrics.in_flight.dec()
            self.services.metrics.stage_seconds.labels(stage="total").observe(
                time.monotonic() - started
            )
        self.services.metrics.jobs.labels(kind=job.kind, outcome=outcome).inc()
        logger.info("job %s in %.1f s", outcome, time.monotonic() - started)
        return outcome
