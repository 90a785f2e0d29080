"""Deleting transcripts: the Delete button, and cleanup when the source is deleted.

Who may delete: the person who shared the file, workspace admins and owners, and the
users of SCRIBE_ADMINS. The deletion itself runs in a job (`bot.jobs.removal`), and so
does every check that needs the Web API (the sharer from files.info, the workspace role
from users.info): handlers call these methods before Slack gets its answer, so each is
fast — at most two store reads and a journal write. SCRIBE_ADMINS is known here without
a call; a click by one of them is journaled as such (`BY_LISTED_ADMIN`).

Cleanup with the source (SCRIBE_DELETE_WITH_SOURCE): the message that carried the file is
deleted (`message_deleted`; a thread parent with replies becomes a tombstone instead, sent
as `message_changed`), or the file itself is (`file_deleted`).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.jobs.removal import BY_LISTED_ADMIN, BY_SOURCE
from bot.jobs.spec import Job, source_deleted_job_id, thread_action_id, transcribe_job_id
from bot.queue.base import JobQueue
from bot.slack.permissions import Permissions
from bot.store.base import Store, ThreadTranscript

logger = logging.getLogger(__name__)


def deleted_message(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(ts, the message as it was) when a `message` event says a message was deleted.

    A thread parent with replies is not removed but replaced by a tombstone, which Slack
    sends as `message_changed` whose `message.subtype` is `tombstone`.
    """
    subtype = event.get("subtype")
    previous = event.get("previous_message")
    previous = previous if isinstance(previous, dict) else {}
    if subtype == "message_deleted" and event.get("deleted_ts"):
        return str(event["deleted_ts"]), previous
    message = event.get("message")
    if (
        subtype == "message_changed"
        and isinstance(message, dict)
        and message.get("subtype") == "tombstone"
        and message.get("ts")
    ):
        return str(message["ts"]), previous
    return None


class Removal:
    def __init__(
        self,
        *,
        queue: JobQueue,
        store: Store,
        permissions: Permissions,
        delete_with_source: bool,
    ) -> None:
        self.queue = queue
        self.store = store
        self.permissions = permissions
        self.delete_with_source = delete_with_source

    async def delete_clicked(
        self,
        *,
        channel_id: str,
        thread_ts: str,
        user_id: str,
        click_id: str,
        team_id: str = "",
        response_url: str = "",
    ) -> bool:
        """Someone clicked Delete on the transcript in this thread: a delete job, which
        checks that they may and tells them the outcome. One job per click (`click_id`,
        the action's `action_ts`): a redelivered click is the same job."""
        return await self.queue.submit(
            Job(
                id=thread_action_id("delete", channel_id, thread_ts, click_id),
                kind="delete",
                team_id=team_id,
                channel_id=channel_id,
                thread_ts=thread_ts,
                user_id=user_id,
                requested=True,
                response_url=response_url,
                option=BY_LISTED_ADMIN if self.permissions.listed(user_id) else "",
            )
        )

    async def message_deleted(self, event: dict[str, Any], *, team_id: str = "") -> bool:
        """A `message` event that may say the message that carried a file was deleted:
        its transcript goes too. False when there is nothing to do (most deletions)."""
        gone = deleted_message(event)
        if gone is None or not self.delete_with_source:
            return False
        ts, previous = gone
        channel = str(event.get("channel") or "")
        thread_ts = str(previous.get("thread_ts") or ts)
        # The files it carried that were transcribed here, whichever transcript the thread
        # links now (a thread may hold several recordings: only theirs go).
        transcribed = [
            str(f["id"])
            for f in previous.get("files") or []
            if isinstance(f, dict)
            and f.get("id")
            and await self.store.get_job(transcribe_job_id(channel, str(f["id"]))) is not None
        ]
        if transcribed:
            for file_id in transcribed:
                await self._clean_up_file(channel, thread_ts, file_id, team_id)
            return True
        record = await self.store.thread_transcript(channel, thread_ts)
        if record is None or not await self._is_source(record, ts, previous):
            return False
        return await self._clean_up(record, team_id)

    async def file_deleted(self, file_id: str, *, team_id: str = "") -> int:
        """The file is gone: so are its transcripts, in every thread it was shared in."""
        if not file_id or not self.delete_with_source:
            return 0
        created = 0
        for record in await self.store.threads_of_file(file_id):
            created += await self._clean_up(record, team_id)
        return created

    async def _is_source(self, record: ThreadTranscript, ts: str, previous: dict[str, Any]) -> bool:
        """Did the deleted message `ts` carry the thread's transcribed file?

        Not every deletion in the thread: the bot's own replies (its deletions come back
        as events too), people's replies, or a parent whose file came in a reply.
        """
        files = previous.get("files") or []
        if any(isinstance(f, dict) and f.get("id") == record.file_id for f in files):
            return True
        done = await self.store.get_job(record.job_id) if record.job_id else None
        if done is not None and done.job.message_ts:
            return done.job.message_ts == ts
        # Nothing recorded about the message (an old record): the parent carried it.
        return ts == record.thread_ts and not files

    async def _clean_up(self, record: ThreadTranscript, team_id: str) -> bool:
        return await self._clean_up_file(
            record.channel_id, record.thread_ts, record.file_id, team_id
        )

    async def _clean_up_file(
        self, channel_id: str, thread_ts: str, file_id: str, team_id: str
    ) -> bool:
        logger.info("source of the transcript in %s deleted", thread_ts)
        return await self.queue.submit(
            Job(
                # Once per thread and file, however many of its deletion events arrive.
                id=source_deleted_job_id(channel_id, thread_ts, file_id),
                kind="delete",
                team_id=team_id,
                channel_id=channel_id,
                thread_ts=thread_ts,
                file_id=file_id,
                option=BY_SOURCE,
            )
        )
