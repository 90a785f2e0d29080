"""The transcript's buttons and menus (download, translate, rename speakers) and Retry.

Handlers call these methods while Slack waits for its answer: each is fast (a store
read, a journal write, or `views.open`, which must happen within the trigger's 3 s).
The work itself runs in jobs (`bot.jobs.transcript_actions`). Each returns what only
the person who clicked should read (None: nothing to say; the thread will show it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs.spec import Job, thread_action_id
from bot.jobs.thread_reply import (
    GONE,
    export_job_id,
    export_key,
    recorded_names,
    translate_job_id,
)
from bot.queue.base import JobQueue
from bot.slack.controls_render import DOWNLOAD_OPTIONS, TRANSLATE_LANGUAGES
from bot.slack.rename_modal import RenameSubmission, read_submission, rename_modal
from bot.slack.text import escape_mrkdwn, language_name
from bot.store.base import Store, ThreadTranscript
from bot.transcript.model import Transcript
from bot.transcript.speakers import normalise_label, unique

logger = logging.getLogger(__name__)

#: The most a click's answer waits for a permalink to point at (Slack allows 3 s in all).
PERMALINK_TIMEOUT_S = 1.0

#: views.open's answers to a trigger that cannot open a modal any more.
_STALE_TRIGGER = frozenset({"expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"})


@dataclass(frozen=True)
class Click:
    """Who used a control, and on which thread's transcript."""

    channel_id: str
    thread_ts: str
    user_id: str
    team_id: str = ""
    trigger_id: str = ""


class TranscriptControls:
    def __init__(self, *, queue: JobQueue, store: Store, slack: AsyncWebClient) -> None:
        self.queue = queue
        self.store = store
        self.slack = slack

    def _job(self, click: Click, kind: Any, job_id: str, **fields: Any) -> Job:
        return Job(
            id=job_id,
            kind=kind,
            team_id=click.team_id,
            channel_id=click.channel_id,
            thread_ts=click.thread_ts,
            user_id=click.user_id,
            requested=True,
            **fields,
        )

    async def _start(self, job: Job, *, also_done: bool) -> bool | None:
        """True: queued now; False: already queued or running; None: done (and not redone)."""
        if await self.queue.submit(job) or await self.queue.resubmit(job, also_done=also_done):
            return True
        record = await self.store.get_job(job.id)
        return None if record is not None and record.state == "done" else False

    async def download(self, click: Click, fmt: str) -> str | None:
        """The Download menu: the export in the thread, once per format and version."""
        if fmt not in DOWNLOAD_OPTIONS:
            return "I can't make that kind of file."
        thread = await self.store.thread_transcript(click.channel_id, click.thread_ts)
        if thread is None:
            return GONE
        label = escape_mrkdwn(DOWNLOAD_OPTIONS[fmt])
        permalink = thread.exports.get(export_key(fmt, thread))
        if permalink:
            return f"It's in this thread already: <{permalink}|{label}>"
        job = self._job(click, "export", export_job_id(thread, fmt), option=fmt)
        # Done without a file on record: the thread was linked to its transcript anew.
        started = await self._start(job, also_done=True)
        return None if started else f"The {label} file is on its way to this thread."

    async def translate(self, click: Click, target: str) -> str | None:
        """The Translate menu: the translation posted in the thread, once per language."""
        if target not in TRANSLATE_LANGUAGES:
            return "I can't translate into that language from here."
        name = escape_mrkdwn(language_name(target))
        thread = await self.store.thread_transcript(click.channel_id, click.thread_ts)
        if thread is None:
            return GONE
        job = self._job(click, "translate", translate_job_id(thread, target), option=target)
        started = await self._start(job, also_done=False)
        if started:
            return f"Translating into {name}; it will appear in this thread."
        if started is False:
            return f"The {name} translation is on its way to this thread."
        return f"The {name} translation is {await self._link(job, 'in this thread already')}."

    async def _link(self, job: Job, words: str) -> str:
        """`words`, linked to the job's reply when Slack gives a permalink for it."""
        record = await self.store.get_job(job.id)
        if record is None or not record.reply_ts:
            return words
        try:
            # Before Slack's answer to the click: a link is not worth a late answer.
            async with asyncio.timeout(PERMALINK_TIMEOUT_S):
                resp = await self.slack.chat_getPermalink(
                    channel=job.channel_id, message_ts=record.reply_ts
                )
        except (SlackApiError, TimeoutError) as exc:
            logger.info("no permalink for a reply: %r", exc)
            return words
        return f"<{resp.get('permalink')}|{words}>"

    async def open_rename(self, click: Click) -> str | None:
        """Rename speakers: the modal, opened at once (the trigger lasts 3 s)."""
        thread = await self.store.thread_transcript(click.channel_id, click.thread_ts)
        if thread is None:
            return GONE
        speakers = [(label, _name_now(thread, label)) for label in _labels(thread)]
        if not speakers:
            return "No one speaks in this recording, so there is no speaker to rename."
        view = rename_modal(click.channel_id, click.thread_ts, speakers)
        try:
            await self.slack.views_open(trigger_id=click.trigger_id, view=view)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in _STALE_TRIGGER:
                return (
                    "Slack didn't let me open the Rename speakers form in time (it allows "
                    "3 seconds). Please click *Rename speakers* again."
                )
            logger.warning("views.open failed: %s", error)
            return f"I couldn't open the Rename speakers form (Slack answered: {error})."
        return None

    @staticmethod
    def read_rename(view: dict[str, Any]) -> RenameSubmission:
        """The submitted modal; its `errors` go back to Slack with the answer."""
        return read_submission(view)

    async def rename(self, submission: RenameSubmission, view_id: str, click: Click) -> None:
        """A valid submission: the rename job, once per submitted modal."""
        job_id = thread_action_id("rename", submission.channel_id, submission.thread_ts, view_id)
        where = Click(submission.channel_id, submission.thread_ts, click.user_id, click.team_id)
        await self.queue.submit(self._job(where, "rename", job_id, names=submission.names))

    async def retry(self, click: Click, job_id: str) -> str:
        """The Retry button of a `:warning:` reply: the failed job runs again, once."""
        record = await self.store.get_job(job_id)
        if record is None:
            return (
                "I no longer have that job (old ones are cleaned up). Mention me in this "
                "thread to start again."
            )
        if record.job.channel_id != click.channel_id:
            return "That button belongs to another conversation."
        if record.state == "failed" and await self.queue.resubmit(record.job):
            return "Trying again…"
        if record.state == "done":
            return "That's done already: the answer is in this thread."
        return "It's running again already; the answer will appear in this thread."


def _labels(thread: ThreadTranscript) -> list[str]:
    stored = Transcript.model_validate_json(thread.transcript_json)
    return unique(normalise_label(s.speaker) for s in stored.segments)


def _name_now(thread: ThreadTranscript, label: str) -> str:
    """The label's name as people gave it, else as the transcription named it."""
    names = {**recorded_names(thread), **thread.speaker_names}
    return names.get(label, label)
