"""The delete job: the bot's replies in the thread and the stored transcript go.

Two ways in (`job.option`): a click on the transcript's Delete button, whose clicker must
be allowed (checked here, where the Web API may be used: the sharer, the workspace role);
or the message or file the transcript came from was deleted (`BY_SOURCE`), which needs
no one's permission and tells no one. The person who clicked is told the outcome only
they see. Every reply the bot posted in the thread goes (transcript parts, status and
warnings, answers, translations), and every file it uploaded there; people's messages
stay. Safe to run again: what is gone already is skipped.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.jobs.services import JobServices
from bot.jobs.spec import Job, transcribe_job_id
from bot.slack.files import media_files
from bot.slack.permissions import ADMINS, home_team, is_workspace_admin
from bot.slack.replies import DONE
from bot.store.base import ThreadTranscript

logger = logging.getLogger(__name__)

#: The transcript's source (message or file) was deleted: cleanup, no permission needed.
BY_SOURCE = "source"
#: Clicked by one of SCRIBE_ADMINS (the listener knows them without a call).
BY_LISTED_ADMIN = "listed_admin"

ALREADY_GONE = "This transcript is already deleted."


async def delete_transcript(services: JobServices, job: Job) -> None:
    """Delete the thread's transcript, if the job may; tell the person who clicked."""
    record = await services.store.thread_transcript(job.channel_id, job.thread_ts)
    recordings = await _recordings(services, job)
    clicked = job.option != BY_SOURCE
    if not clicked and set(recordings) - {job.file_id}:
        # Other recordings in the thread keep their transcripts: only this one's go.
        await _delete_one(services, job, record)
        return
    own = await services.replies.own_replies(job)
    if clicked:
        if record is None and not own.messages:
            await services.replies.tell_requester(job, ALREADY_GONE)
            return
        # Whoever shared every recording here, or an admin: a voice note in someone
        # else's thread is no right to delete their transcript.
        sharers = set(recordings.values()) or await _sharers(services, record)
        if not await _may_delete(services, job, sharers):
            logger.info("delete refused: not the sharer nor an admin")
            await services.replies.tell_requester(job, refusal(sharers))
            return
    # Files first: deleting a file may take its message with it (Slack does).
    for file_id in own.files:
        await services.replies.delete_file(job, file_id)
    for ts in own.messages:
        await services.replies.delete(job, ts)
    # The record last: a run cut short finds it again, and with it who may delete.
    if record is not None:
        await services.store.forget_thread(job.channel_id, job.thread_ts)
        await _unmark_source(services, job, record)
    logger.info("transcript deleted: %d messages, %d files", len(own.messages), len(own.files))
    if clicked:
        await services.replies.tell_requester(
            job,
            "Deleted the transcript: my replies in this thread and the stored transcript. "
            "Messages people wrote there are kept.",
        )


def refusal(sharers: set[str]) -> str:
    """Why not, and who may: said only to the person who clicked."""
    who = ", ".join(f"<@{u}>" for u in sorted(sharers))
    if len(sharers) > 1:
        return (
            f"You can't delete this transcript: this thread holds recordings shared by {who}, "
            f"so only {ADMINS} can delete its transcripts. Or delete the message with your "
            "recording: its transcript goes with it."
        )
    first = f"the person who shared the recording ({who}), " if who else ""
    return (
        "You can't delete this transcript. It can be deleted by "
        f"{first}{ADMINS}. Ask one of them, or delete the message with the recording: its "
        "transcript goes with it."
    )


async def _may_delete(services: JobServices, job: Job, sharers: set[str]) -> bool:
    if job.option == BY_LISTED_ADMIN or sharers == {job.user_id}:
        return True
    team = await home_team(services.slack)
    return await is_workspace_admin(services.slack, job.user_id, team)


async def _recordings(services: JobServices, job: Job) -> dict[str, str]:
    """The recordings people shared in the thread that were transcribed here: file id →
    who shared it. A thread that is gone has none."""
    found: dict[str, str] = {}
    async for msg in services.replies.thread_messages(job, missing_ok=True):
        if msg.get("bot_id"):
            continue  # the bot's (and other apps') uploads are no recordings
        for file in media_files(msg.get("files")):
            file_id = str(file["id"])
            if await services.store.get_job(transcribe_job_id(job.channel_id, file_id)):
                found[file_id] = str(file.get("user") or msg.get("user") or "")
    return found


async def _delete_one(services: JobServices, job: Job, record: ThreadTranscript | None) -> None:
    """The source of one of several transcripts in a thread was deleted: its messages go
    (found by its job's marker); exports and translations cannot be told apart and stay."""
    transcription = job.model_copy(update={"id": transcribe_job_id(job.channel_id, job.file_id)})
    posted = await services.replies.posted(transcription)
    for ts in sorted(set(posted.markers.values())):
        await services.replies.delete(job, ts)
    if record is not None and record.file_id == job.file_id:
        await services.store.forget_thread(job.channel_id, job.thread_ts)
    logger.info("one transcript of several deleted: %d messages", len(set(posted.markers.values())))


async def _sharers(services: JobServices, record: ThreadTranscript | None) -> set[str]:
    """Who shared the transcribed file: the uploader, and whoever posted the message that
    carried it when the transcription was automatic (a requested job's user is the
    person who asked, not the sharer). files.info when the journal does not say."""
    if record is None:
        return set()
    found: set[str] = set()
    done = await services.store.get_job(record.job_id) if record.job_id else None
    if done is not None:
        if done.job.file and done.job.file.get("user"):
            found.add(str(done.job.file["user"]))
        if not done.job.requested and done.job.user_id:
            found.add(done.job.user_id)
    if not found and record.file_id:
        try:
            file = (await services.slack.files_info(file=record.file_id)).get("file") or {}
        except SlackApiError as exc:
            # The file is gone or hidden from the bot: only admins, then.
            logger.info("sharer unknown: files.info %s", exc.response.get("error"))
            return found
        if file.get("user"):
            found.add(str(file["user"]))
    return found


async def _unmark_source(services: JobServices, job: Job, record: ThreadTranscript) -> None:
    """The check mark on the message with the recording said "transcribed": no longer."""
    done = await services.store.get_job(record.job_id) if record.job_id else None
    if done is not None and done.job.message_ts:
        await services.replies.react(
            job.model_copy(update={"message_ts": done.job.message_ts}), remove=DONE
        )
