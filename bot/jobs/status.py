"""A job's status message in its thread: posted once, edited as parts finish, then gone.

Long recordings take minutes; the status message says what is happening ("part 3 of
8", "waiting for Gemini, next try at 14:05"). Edits go out at most once per
`interval_s` (chat.update is Tier 3, shared by every job of the workspace): progress
events in between only replace the text that the next edit will carry. When the
transcript is posted the status message is deleted; when the job fails it becomes the
warning (`Replies.report_failure`), so a thread never keeps a stale status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.gemini.progress import Progress
from bot.jobs.retries import is_transient
from bot.jobs.spec import Job, reply_marker
from bot.slack.render import render_status
from bot.slack.replies import Replies
from bot.slack.text import escape_mrkdwn, inline

logger = logging.getLogger(__name__)


def status_marker(job: Job) -> str:
    return reply_marker(job.id) + "-s"


def minutes(duration_s: float) -> str:
    return f"{duration_s / 60:.0f} min" if duration_s >= 60 else f"{duration_s:.0f} s"


def progress_text(name: str, duration_s: float, event: Progress) -> str:
    """mrkdwn: "Transcribing *name* · 42 min · 3 of 8 parts done"."""
    head = f"Transcribing *{escape_mrkdwn(inline(name))}* · {minutes(duration_s)}"
    if event.stage == "combining":
        return f"{head} · {event.total} of {event.total} parts done, putting them together"
    if event.total > 1:
        return f"{head} · {event.done} of {event.total} parts done"
    return f"{head} · listening"


def waiting_text(why: str, due_at: float) -> str:
    """mrkdwn: why the job waits, and when it tries again (in each reader's own time zone)."""
    due = int(due_at)
    fallback = time.strftime("%H:%M UTC", time.gmtime(due))
    return (
        f"{escape_mrkdwn(why)} I'll try again by myself at <!date^{due}^{{time}}|{fallback}>; "
        "nothing to do on your side."
    )


class JobStatus:
    """The status message of one run of one job (found again by marker after a restart)."""

    def __init__(self, replies: Replies, job: Job, *, interval_s: float) -> None:
        self._replies = replies
        self._job = job
        self._interval_s = interval_s
        self.ts: str | None = None
        self._shown = ""
        self._pending: str | None = None
        self._last_edit = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._sleeping = False
        self._lock = asyncio.Lock()

    @property
    def job(self) -> Job:
        return self._job

    def rebind(self, job: Job) -> None:
        """The job with its thread resolved (a file_shared event has none at first)."""
        self._job = job

    async def find(self) -> None:
        """Pick up the status message an earlier run of this job left in the thread."""
        if self._job.thread_ts and self.ts is None:
            found = await self._replies.posted(self._job)
            self.ts = found.markers.get(status_marker(self._job)) or self.ts

    async def show(self, text: str) -> None:
        """Post the status now, or edit it now (a state change such as waiting or done).

        Edits never cross: one at a time (the lock), and a progress edit waiting for its
        turn is dropped by a state change (`_pending` is cleared under the lock).
        """
        async with self._lock:
            self._pending = None
            await self._put(text)

    async def _put(self, text: str) -> None:
        if not self._job.thread_ts or text == self._shown:
            return
        message = render_status(text)
        if self.ts is None:
            self.ts = await self._replies.post(self._job, message, status_marker(self._job))
        else:
            await self._replies.update(
                self._job, self.ts, message, status_marker(self._job), best_effort=True
            )
        self._shown, self._last_edit = text, time.monotonic()

    def soon(self, text: str) -> None:
        """Show `text` at the next allowed edit (for progress events; returns at once)."""
        if self.ts is None:
            return  # no status message for this job: nothing to edit
        self._pending = text
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="status-edit")

    async def _flush(self) -> None:
        while self._pending is not None:
            wait = self._last_edit + self._interval_s - time.monotonic()
            if wait > 0:
                self._sleeping = True
                try:
                    await asyncio.sleep(wait)
                finally:
                    self._sleeping = False
            async with self._lock:
                text, self._pending = self._pending, None
                if text is None:
                    return
                try:
                    await self._put(text)
                except Exception:  # a status edit must never fail the job
                    logger.exception("could not edit the status message")

    async def settle(self) -> None:
        """Drop pending edits and let one in flight land (before the message is deleted or
        becomes the warning: an edit cancelled mid-request may still reach Slack after)."""
        self._pending = None
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            if self._sleeping:
                flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        self._flusher = None

    async def remove(self) -> None:
        """Delete the status message: the transcript (or answer) is in the thread.

        A transient refusal is raised, so the job runs again and removes it then; any
        other is logged (a stale status message is no reason to fail a delivered job).
        """
        await self.settle()
        if self.ts is not None:
            try:
                await self._replies.delete(self._job, self.ts)
            except Exception as exc:
                if is_transient(exc):
                    raise
                logger.exception("could not delete the status message")
            self.ts = None
