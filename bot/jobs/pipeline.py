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

from bot.errors import NO_SOUND_TRACK, UserFacingError
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
        metrics = self.services.metrics
        if attempt > MAX_ATTEMPTS:
            # The process died during each earlier start: do not risk it again.
            logger.error("job gave up after %d starts", attempt - 1)
            await self._fail(job, "crash_loop", CRASH_LOOP)
            metrics.jobs.labels(kind=job.kind, outcome="failed").inc()
            return "failed"
        metrics.in_flight.inc()
        started = time.monotonic()
        # One limit for the whole job, so that it ends with a message here rather than
        # being cut off silently by a queue's own backstop timeout.
        budget_s = self.services.config.job_budget_s
        deadline = asyncio.timeout(budget_s)
        outcome: Outcome = "failed"
        try:
            async with deadline:
                await self._dispatch(job, attempt)
            outcome = "done"
        except TimeoutError:
            if deadline.expired():
                logger.warning("job ran past its budget of %.0f s", budget_s)
                await self._fail(job, "job_budget", over_budget(budget_s))
            else:
                # A client's own limit (a Slack call, the download): as transient as a 503.
                logger.warning("a call timed out", exc_info=True)
                await self._fail(job, "timeout", TIMED_OUT)
        except LeaseLost:
            raise  # another worker owns the job now: it reports the outcome, not this run
        except UserFacingError as exc:
            logger.info("job failed: %s (%s)", exc.reason, exc)
            silent = not job.requested and exc.reason in QUIET_UNLESS_ASKED
            await self._fail(job, exc.reason, None if silent else str(exc))
        except Exception:
            logger.exception("job crashed")
            await self._fail(job, "internal", INTERNAL)
        finally:
            metrics.in_flight.dec()
            metrics.stage_seconds.labels(stage="total").observe(time.monotonic() - started)
        metrics.jobs.labels(kind=job.kind, outcome=outcome).inc()
        logger.info("job %s in %.1f s", outcome, time.monotonic() - started)
        return outcome

    async def _dispatch(self, job: Job, attempt: int) -> None:
        if job.kind == "answer":
            await answer_question(self.services, job, attempt)
        elif job.kind == "locate":
            await locate_media(self.services, job)
        else:
            await transcribe_file(self.services, job, attempt)
            if job.question:  # asked before there was a transcript: answer it now
                await ask_after_transcript(self.services, job)

    async def _fail(self, job: Job, reason: str, text: str | None) -> None:
        """Count the failure; tell the thread `text`, or (None) just drop the hourglass."""
        self.services.metrics.failures.labels(reason=reason).inc()
        if text is None:
            await self.services.replies.react(job, remove=WORKING)
        else:
            await self.services.replies.report_failure(job, text)


#: Failures that are no news to anyone when nobody asked: a video without sound (screen
#: recordings), and a Slack Connect file the partner organisation keeps from apps. Every
#: other file Slack calls audio or video gets its warning: its sharer expects a transcript.
QUIET_UNLESS_ASKED = frozenset({NO_SOUND_TRACK, "access_denied"})

CRASH_LOOP = (
    "I stopped working on this recording: processing it failed repeatedly on my side. It "
    "has been logged for the app's admin; try again later or share a shorter recording."
)
TIMED_OUT = (
    "A request to Slack or the download of the file timed out, so I stopped. This is "
    "usually temporary: mention me in this thread to try again in a minute."
)
INTERNAL = (
    "Something went wrong on my side while working on this. It has been logged; mention me "
    "in this thread to try again."
)


def over_budget(budget_s: float) -> str:
    return (
        f"This took longer than the {budget_s / 60:.0f} min I allow for one recording, so I "
        "stopped. Try again later (mention me in this thread), or share a shorter recording."
    )
