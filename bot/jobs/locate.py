"""Jobs that find the media a person asked for, check access, and submit its transcription.

`locate` serves `/transcribe` (no argument, message links, file links), the message
shortcut and mentions: it looks the media up with the Web API (which cannot happen
before Slack's 3-second ack), checks the bot can read and answer there, and then
submits the real transcription job. Whatever stops it is told to the person who
asked, through the request's response_url when there is one (it works even where
the bot is not a member), else as an ephemeral message.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.jobs.services import JobServices
from bot.jobs.spec import Job, transcribe_job_id
from bot.slack.errors import user_message
from bot.slack.files import (
    hidden_file_error,
    is_file_stub,
    is_hidden_by_limit,
    is_media_file,
    media_files,
)
from bot.slack.text import escape_mrkdwn

logger = logging.getLogger(__name__)

#: The answer when the asker may not read where a link points. The same words whether the
#: message exists or not, so that nothing about a conversation leaks to someone outside it.
NOT_FOR_YOU = (
    "I can't transcribe that for you: the message or file is gone, or it is in a "
    "conversation you are not a member of. Ask someone in that conversation to use the "
    "*Transcribe* shortcut on it."
)


async def locate_media(services: JobServices, job: Job) -> None:
    """Find the media a request means, check access, submit its transcription."""
    try:
        if job.file_id:
            notice = await _locate_file(services, job)
        elif job.message_ts:
            notice = await _locate_message(services, job)
        else:
            notice = await _locate_latest(services, job)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        notice = user_message(error, channel=job.channel_id)
        if notice is None:
            raise
        logger.info("locate %s: %s", job.id, error)
    if notice:
        await services.replies.tell_requester(job, notice)


async def _locate_latest(services: JobServices, job: Job) -> str | None:
    """No argument: the newest media without a transcript in the thread, else the channel."""
    if job.thread_ts:
        resp = await services.slack.conversations_replies(
            channel=job.channel_id, ts=job.thread_ts, limit=200
        )
        messages = list(reversed(resp.get("messages") or []))
    else:
        resp = await services.slack.conversations_history(channel=job.channel_id, limit=100)
        messages = list(resp.get("messages") or [])
    states: set[str] = set()
    for msg in messages:
        if msg.get("bot_id"):
            continue  # our own transcripts and exports, other bots' posts: never "a recording"
        for file in await _media_of(services, msg, keep_hidden=False):
            state = await _file_state(services, job.channel_id, msg, file)
            if state is None:
                if await _submit(services, job, job.channel_id, msg, file):
                    return None
                state = "pending"  # another request started it between our look and now
            elif state == "deleted" and not job.question:
                # Its transcript was deleted; asked again, it is made again. A question
                # is told there is no transcript (below).
                if await _redo(services, job, job.channel_id, msg, file):
                    return None
                state = "pending"
            states.add(state)
    if "pending" in states:
        return "That recording is being transcribed right now; the transcript will appear in " + (
            "this thread. Ask me again once it is there." if job.question else "its thread."
        )
    if job.thread_ts and "done" in states:
        return (
            "This thread's recording already has a transcript. Mention me with a question "
            "about it, e.g. `@slack-scribe what was decided?`"
        )
    if job.question:
        return (
            "There's no transcript in this thread to answer from yet. Mention me in the thread "
            "of a message with audio or video to transcribe it first, then ask again."
        )
    if job.thread_ts:
        return (
            "I found no audio or video without a transcript in this thread. Mention me in the "
            "thread of a message with a recording, or use the *Transcribe* shortcut on it."
        )
    return (
        "I found no audio or video without a transcript in the recent messages here. For an "
        "older one, use `/transcribe <link to the message>`."
    )


async def _locate_message(services: JobServices, job: Job) -> str | None:
    """A message link or the shortcut: every recording in that message."""
    if not await asker_can_read(services, job.user_id, job.channel_id):
        return NOT_FOR_YOU
    # The window holds just that message (and the thread's parent, which always comes first).
    resp = await services.slack.conversations_replies(
        channel=job.channel_id,
        ts=job.message_ts,
        oldest=job.message_ts,
        latest=job.message_ts,
        inclusive=True,
        limit=2,
    )
    msg = next((m for m in resp.get("messages") or [] if m.get("ts") == job.message_ts), None)
    if msg is None:
        return user_message("message_not_found")
    files = await _media_of(services, msg, keep_hidden=True)
    if not files:
        if msg.get("files"):
            return "That message has files, but no audio or video to transcribe."
        return "That message has no audio or video to transcribe."
    states: set[str] = set()
    submitted = 0
    for file in files:
        state = await _file_state(services, job.channel_id, msg, file)
        if state == "deleted" or (
            state == "done" and await _other_options(services, job, job.channel_id, file)
        ):
            state = None if await _redo(services, job, job.channel_id, msg, file) else "pending"
            submitted += state is None
        elif state is None and await _submit(services, job, job.channel_id, msg, file):
            submitted += 1
        else:
            states.add(state or "pending")
    if submitted:
        return None
    if "pending" in states:
        return "That recording is being transcribed right now; the transcript will appear in its thread."
    return "That recording already has a transcript in its thread."


async def _locate_file(services: JobServices, job: Job) -> str | None:
    """A file link: the file's share (here if it was shared here), then its transcription.

    Only shares in conversations the asker can read count, and nothing about the file
    (not even its name) is said before one is found.
    """
    resp = await services.slack.files_info(file=job.file_id)
    file = resp.get("file") or {}
    shares: list[tuple[str, dict[str, Any]]] = []
    for kind in ("public", "private"):
        for channel, entries in ((file.get("shares") or {}).get(kind) or {}).items():
            shares += [(str(channel), entry) for entry in entries or []]
    # Here first, then wherever it was shared first.
    shares.sort(key=lambda s: s[0] != job.channel_id)
    readable = [s for s in shares if await _readable_share(services, job.user_id, s[0])]
    if not readable:
        return NOT_FOR_YOU
    if (hidden := hidden_file_error(file)) is not None:
        return str(hidden)
    name = escape_mrkdwn(str(file.get("name") or file.get("title") or "That file"))
    if not is_media_file(file):
        return f"{name} isn't audio or video, so there is nothing to transcribe."
    channel, share = readable[0]
    ts = str(share.get("ts") or "")
    msg = {"ts": ts, "thread_ts": share.get("thread_ts") or ts}
    state = await _file_state(services, channel, msg, file)
    if state == "pending":
        return f"{name} is being transcribed right now; the transcript will appear in its thread."
    if state == "deleted" or (
        state == "done" and await _other_options(services, job, channel, file)
    ):
        if await _redo(services, job, channel, msg, file):
            return None
        return f"{name} is being transcribed right now; the transcript will appear in its thread."
    if state == "done":
        return f"{name} already has a transcript in the thread where it was shared."
    if not await _submit(services, job, channel, msg, file):
        return f"{name} is being transcribed right now; the transcript will appear in its thread."
    return None


async def _readable_share(services: JobServices, user_id: str, channel: str) -> bool:
    """Can the bot answer in `channel`, and may the asker read it?"""
    try:
        return await asker_can_read(services, user_id, channel)
    except SlackApiError as exc:
        if user_message(str(exc.response.get("error") or "")) is not None:
            return False
        raise


async def asker_can_read(services: JobServices, user_id: str, channel: str) -> bool:
    """May `user_id` read `channel`? The bot acts there for them only if so.

    Public channels are open to every full member of the workspace; private channels,
    DMs and group DMs, and public channels for guests, only to their members.
    """
    info = (await services.slack.conversations_info(channel=channel)).get("channel") or {}
    if not (info.get("is_private") or info.get("is_im") or info.get("is_mpim")):
        try:
            user = (await services.slack.users_info(user=user_id)).get("user") or {}
        except SlackApiError as exc:
            if exc.response.get("error") in ("user_not_found", "user_not_visible"):
                return False  # someone Slack does not show the bot is told no
            raise
        if not (user.get("is_restricted") or user.get("is_ultra_restricted")):
            return True
    cursor: str | None = None
    while True:
        page = await services.slack.conversations_members(
            channel=channel, cursor=cursor, limit=1000
        )
        if user_id in (page.get("members") or []):
            return True
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return False


async def _media_of(
    services: JobServices, msg: dict[str, Any], *, keep_hidden: bool
) -> list[dict[str, Any]]:
    """The message's audio and video, stubs completed with files.info (Slack Connect).

    A file hidden by the plan's limit cannot be judged: kept where the person pointed at
    this very message (the job explains it), skipped when looking for "the latest".
    """
    found: list[dict[str, Any]] = []
    for file in media_files(msg.get("files")):
        if is_file_stub(file):
            file = (await services.slack.files_info(file=str(file["id"]))).get("file") or {}
        if is_hidden_by_limit(file):
            if keep_hidden:
                found.append(file)
        elif is_media_file(file):
            found.append(file)
    return found


async def _file_state(
    services: JobServices, channel: str, msg: dict[str, Any], file: dict[str, Any]
) -> str | None:
    """`pending`, `done`, `deleted` (done, but its transcript was deleted since: it may be
    made again), or None (never transcribed here, or it failed: may be retried)."""
    record = await services.store.get_job(transcribe_job_id(channel, str(file["id"])))
    if record is not None and record.state in ("queued", "running"):
        return "pending"
    if record is not None and record.state == "done":
        thread_ts = record.job.thread_ts or str(msg.get("thread_ts") or msg.get("ts") or "")
        if await services.store.thread_transcript(channel, thread_ts) is None:
            return "deleted"
        return "done"
    return None


async def _other_options(
    services: JobServices, job: Job, channel: str, file: dict[str, Any]
) -> bool:
    """Does this request ask for a language or translation the file's transcript lacks?"""
    if job.language is None and job.translate_to is None:
        return False
    record = await services.store.get_job(transcribe_job_id(channel, str(file["id"])))
    if record is None:
        return False
    done = record.job
    return (job.language or done.language, job.translate_to or done.translate_to) != (
        done.language,
        done.translate_to,
    )


async def _redo(
    services: JobServices, job: Job, channel: str, msg: dict[str, Any], file: dict[str, Any]
) -> bool:
    """Transcribe again with this request's options; the new transcript replaces the old
    one's messages in place. False when another request restarted it first."""
    target = _transcription(job, channel, msg, file).model_copy(update={"replace_reply": True})
    return await services.queue.resubmit(target, also_done=True)


def _transcription(job: Job, channel: str, msg: dict[str, Any], file: dict[str, Any]) -> Job:
    ts = str(msg.get("ts") or "")
    return job.model_copy(
        update={
            "id": transcribe_job_id(channel, str(file["id"])),
            "kind": "transcribe",
            "channel_id": channel,
            "file_id": str(file["id"]),
            "thread_ts": str(msg.get("thread_ts") or ts),
            "message_ts": ts,
            "requested": True,
            "response_url": "",
        }
    )


async def _submit(
    services: JobServices, job: Job, channel: str, msg: dict[str, Any], file: dict[str, Any]
) -> int:
    target = _transcription(job, channel, msg, file)
    # The same id again: a job that failed runs once more (and finds in the thread whatever
    # it had posted), and a second request meanwhile finds it queued.
    if await services.queue.submit(target):
        return 1
    return int(await services.queue.resubmit(target))
