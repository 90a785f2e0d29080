"""Runs one job of any kind and decides how it ends: the failure policy.

Every job ends in exactly one of: its reply (a transcript, an answer, a notice to the
person who asked), a `:warning:` reply that says what went wrong and what to try, or
(automatic jobs on files that are not media) silence. A run that lost its job to another
worker (`LeaseLost`) ends without a word: the new owner reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.errors import NO_SOUND_TRACK, GeminiUnavailableError, UserFacingError
from bot.jobs.answers import answer_question, ask_after_transcript
from bot.jobs.locate import locate_media
from bot.jobs.removal import delete_transcript
from bot.jobs.retries import after_transient_failure, is_transient, next_try_at
from bot.jobs.services import JobServices
from bot.jobs.spec import Job
from bot.jobs.status import JobStatus, waiting_text
from bot.jobs.transcript_actions import run_transcript_action
from bot.jobs.transcription import transcribe_file
from bot.ops.logs import job_context
from bot.queue.base import MAX_ATTEMPTS, Deferred, LeaseLost, Outcome
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
            status = JobStatus(self.services.replies, job, interval_s=0)
            with contextlib.suppress(Exception):  # the warning matters more than the status
                await status.find()  # the status message of the run that kept dying
            await self._fail(job, status, "crash_loop", CRASH_LOOP)
            metrics.jobs.labels(kind=job.kind, outcome="failed").inc()
            return "failed"
        metrics.in_flight.inc()
        started = time.monotonic()
        # One limit for the whole job, so that it ends with a message here rather than
        # being cut off silently by a queue's own backstop timeout.
        budget_s = self.services.config.job_budget_s
        deadline = asyncio.timeout(budget_s)
        outcome: Outcome = "failed"
        status = JobStatus(
            self.services.replies, job, interval_s=self.services.config.status_interval_s
        )
        try:
            async with deadline:
                if job.transient_failures:
                    await status.find()  # the waiting message of the run before
                await self._dispatch(job, attempt, status)
                await status.remove()  # a transcription removes it once posted; others here
            outcome = "done"
        except TimeoutError as exc:
            if deadline.expired():
                logger.warning("job ran past its budget of %.0f s", budget_s)
                await self._fail(job, status, "job_budget", over_budget(budget_s))
            else:
                # A client's own limit (a Slack call, the download): as transient as a 503.
                logger.warning("a call timed out", exc_info=True)
                outcome = await self._transient(job, status, "timeout", TIMED_OUT, exc)
        except LeaseLost:
            raise  # another worker owns the job now: it reports the outcome, not this run
        except UserFacingError as exc:
            logger.info("job failed: %s (%s)", exc.reason, exc)
            if exc.transient:
                outcome = await self._transient(job, status, exc.reason, str(exc), exc)
            else:
                silent = not job.requested and exc.reason in QUIET_UNLESS_ASKED
                await self._fail(job, status, exc.reason, None if silent else str(exc))
        except Exception as exc:
            if is_transient(exc):
                logger.warning("job hit a transient error: %r", exc)
                outcome = await self._transient(job, status, "slack_unavailable", SLACK_DOWN, exc)
            else:
                logger.exception("job crashed")
                await self._fail(job, status, "internal", INTERNAL)
        finally:
            await status.settle()
            metrics.in_flight.dec()
            metrics.stage_seconds.labels(stage="total").observe(time.monotonic() - started)
        label = "deferred" if isinstance(outcome, Deferred) else outcome
        metrics.jobs.labels(kind=job.kind, outcome=label).inc()
        logger.info("job %s in %.1f s", label, time.monotonic() - started)
        return outcome

    async def _dispatch(self, job: Job, attempt: int, status: JobStatus) -> None:
        if job.kind == "answer":
            await answer_question(self.services, job, attempt)
        elif job.kind == "locate":
            await locate_media(self.services, job)
        elif job.kind in ("export", "translate", "rename"):
            await run_transcript_action(self.services, job, attempt)
        elif job.kind == "delete":
            await delete_transcript(self.services, job)
        else:
            await transcribe_file(self.services, job, attempt, status)
            if job.question:  # asked before there was a transcript: answer it now
                await ask_after_transcript(self.services, job)

    async def _transient(
        self, job: Job, status: JobStatus, reason: str, text: str, exc: BaseException
    ) -> Outcome:
        """Back to the queue with a due time, or (the window is over) a warning with Retry."""
        config = self.services.config
        now = time.time()
        due = next_try_at(
            job, now, window_s=config.retry_window_s, first_delay_s=config.retry_first_delay_s
        )
        if due is None:
            waited = now - (job.transient_since or now)
            gave_up = text if waited < 60 else f"{text} (I kept trying for {waited / 60:.0f} min.)"
            await self._fail(job, status, reason, gave_up)
            return "failed"
        self.services.metrics.retries.labels(reason=reason).inc()
        logger.info("transient failure (%s); next try in %.0f s", reason, due - now)
        try:
            await status.settle()
            await status.show(waiting_text(_waiting_reason(exc), due))
        except Exception:  # the retry must not depend on Slack taking the status message
            logger.warning("could not show the waiting status", exc_info=True)
        return Deferred(after_transient_failure(status.job, now), due)

    async def _fail(self, job: Job, status: JobStatus, reason: str, text: str | None) -> None:
        """Count the failure; tell the thread `text`, or (None) just drop the hourglass."""
        self.services.metrics.failures.labels(reason=reason).inc()
        await status.settle()
        if text is None:
            await status.remove()
            await self.services.replies.react(status.job, remove=WORKING)
        else:
            await self.services.replies.report_failure(status.job, text, status_ts=status.ts)


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
SLACK_DOWN = (
    "Slack did not answer my requests (it may be having an outage), so I stopped. Mention "
    "me in this thread to try again."
)
INTERNAL = (
    "Something went wrong on my side while working on this. It has been logged; mention me "
    "in this thread to try again."
)


def _waiting_reason(exc: BaseException) -> str:
    """One plain sentence on why a job waits, for its status message."""
    if isinstance(exc, GeminiUnavailableError):
        return "Gemini is busy or unavailable right now."
    if isinstance(exc, UserFacingError) and exc.reason == "partial_delivery":
        return "Slack refused part of the transcript for now."
    if isinstance(exc, TimeoutError):
        return "A request timed out."
    return "Slack is not answering right now."


def over_budget(budget_s: float) -> str:
    return (
        f"This took longer than the {budget_s / 60:.0f} min I allow for one recording, so I "
        "stopped. Try again later (mention me in this thread), or share a shorter recording."
    )
