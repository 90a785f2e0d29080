"""Jobs that start from a person's request rather than a file: questions, and finding media.

`locate` serves `/transcribe` (no argument, message links, file links), the message
shortcut and mentions: it looks the media up with the Web API (which cannot happen
before Slack's 3-second ack), checks the bot can read and answer there, and then
submits the real transcription job. Whatever stops it is told to the person who
asked, through the request's response_url when there is one (it works even where
the bot is not a member), else as an ephemeral message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.errors import UserFacingError
from bot.gemini.config import Usage
from bot.gemini.prompts import question_prompt
from bot.jobs.spec import Job, answer_job_id, reply_marker, transcribe_job_id
from bot.slack.files import (
    hidden_file_error,
    is_file_stub,
    is_hidden_by_limit,
    is_media_file,
    media_files,
)
from bot.slack.render import escape_mrkdwn, render_answer
from bot.transcript.exports import to_text
from bot.transcript.model import Transcript

if TYPE_CHECKING:
    from bot.jobs.pipeline import Pipeline

logger = logging.getLogger(__name__)

INVITE = "`/invite @slack-scribe`"

#: The answer when the asker may not read where a link points. The same words whether the
#: message exists or not, so that nothing about a conversation leaks to someone outside it.
NOT_FOR_YOU = (
    "I can't transcribe that for you: the message or file is gone, or it is in a "
    "conversation you are not a member of. Ask someone in that conversation to use the "
    "*Transcribe* shortcut on it."
)

#: Web API errors a person can fix, and what to tell them. `{channel}` is the conversation.
_ACCESS_ERRORS = {
    "not_in_channel": "I'm not a member of <#{channel}>, so I can't read it. Invite me there "
    f"with {INVITE}, then ask again.",
    "channel_not_found": "I can't see that conversation: it's private and I'm not in it, or it "
    "belongs to another workspace. Invite me to it with {invite}, or share the recording in "
    "a channel I'm in (or send it to me directly).",
    "thread_not_found": "I couldn't find that message: it may have been deleted, or the link "
    "is incomplete. Copy the link again with *Copy link* on the message.",
    "message_not_found": "I couldn't find that message: it may have been deleted.",
    "file_not_found": "I can't see that file: it was deleted, or it is only shared where I'm "
    f"not a member. Invite me to the channel it was shared in with {INVITE}, then ask again.",
    "file_deleted": "That file was deleted, so there is nothing to transcribe.",
}


async def tell_requester(pipeline: Pipeline, job: Job, text: str) -> None:
    """A notice only the person who asked sees."""
    if job.response_url:
        try:
            async with pipeline.http.post(
                job.response_url,
                json={"response_type": "ephemeral", "replace_original": False, "text": text},
            ) as resp:
                if resp.status < 400:
                    return
                logger.warning("response_url answered %s for job %s", resp.status, job.id)
        except aiohttp.ClientError as exc:
            logger.warning("response_url failed for job %s: %s", job.id, exc)
    try:
        await pipeline.ephemeral(job, text)
    except SlackApiError as exc:
        logger.warning(
            "could not tell %s about job %s: %s", job.user_id, job.id, exc.response.get("error")
        )


async def answer_question(pipeline: Pipeline, job: Job) -> None:
    """A question in a transcribed thread, answered from the stored transcript."""
    found = await pipeline.store.thread_transcript(job.channel_id, job.thread_ts)
    if found is None:
        raise UserFacingError(
            "I don't have a transcript for this thread yet. Mention me in the thread of a "
            "message with audio or video to transcribe it first.",
            reason="no_transcript",
        )
    transcript = Transcript.model_validate_json(found.transcript_json)
    usage = Usage()
    with pipeline.stage("gemini"):
        answer = await pipeline.gemini.ask_text(
            question_prompt(job.question or "", to_text(transcript)), usage
        )
    pipeline.count_usage(usage, 0.0)
    message = render_answer(job.question or "", answer or "Gemini gave no answer.")
    record = await pipeline.store.get_job(job.id)
    if record is None or not record.reply_ts:
        ts = await pipeline.post(job, message, reply_marker(job.id) + "-0")
        await pipeline.store.record_reply(job.id, ts)


async def ask_after_transcript(pipeline: Pipeline, job: Job) -> None:
    """A transcription that was asked for with a question: queue the answer to it."""
    await pipeline.queue.submit(
        job.model_copy(
            update={
                "id": answer_job_id(job.channel_id, job.message_ts) + ":" + job.id,
                "kind": "answer",
                "response_url": "",
            }
        )
    )


async def locate_media(pipeline: Pipeline, job: Job) -> None:
    """Find the media a request means, check access, submit its transcription."""
    try:
        if job.file_id:
            notice = await _locate_file(pipeline, job)
        elif job.message_ts:
            notice = await _locate_message(pipeline, job)
        else:
            notice = await _locate_latest(pipeline, job)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error not in _ACCESS_ERRORS:
            raise
        logger.info("locate %s: %s", job.id, error)
        notice = _ACCESS_ERRORS[error].format(channel=job.channel_id, invite=INVITE)
    if notice:
        await tell_requester(pipeline, job, notice)


async def _locate_latest(pipeline: Pipeline, job: Job) -> str | None:
    """No argument: the newest media without a transcript in the thread, else the channel."""
    if job.thread_ts:
        resp = await pipeline.slack.conversations_replies(
            channel=job.channel_id, ts=job.thread_ts, limit=200
        )
        messages = list(reversed(resp.get("messages") or []))
    else:
        resp = await pipeline.slack.conversations_history(channel=job.channel_id, limit=100)
        messages = list(resp.get("messages") or [])
    states: set[str] = set()
    for msg in messages:
        if msg.get("bot_id"):
            continue  # our own transcripts and exports, other bots' posts: never "a recording"
        for file in await _media_of(pipeline, msg, keep_hidden=False):
            state = await _file_state(pipeline, job.channel_id, msg, file)
            if state is None:
                if await _submit(pipeline, job, job.channel_id, msg, file):
                    return None
                state = "pending"  # another request started it between our look and now
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


async def _locate_message(pipeline: Pipeline, job: Job) -> str | None:
    """A message link or the shortcut: every recording in that message."""
    if not await asker_can_read(pipeline, job.user_id, job.channel_id):
        return NOT_FOR_YOU
    # The window holds just that message (and the thread's parent, which always comes first).
    resp = await pipeline.slack.conversations_replies(
        channel=job.channel_id,
        ts=job.message_ts,
        oldest=job.message_ts,
        latest=job.message_ts,
        inclusive=True,
        limit=2,
    )
    msg = next((m for m in resp.get("messages") or [] if m.get("ts") == job.message_ts), None)
    if msg is None:
        return _ACCESS_ERRORS["message_not_found"]
    files = await _media_of(pipeline, msg, keep_hidden=True)
    if not files:
        if msg.get("files"):
            return "That message has files, but no audio or video to transcribe."
        return "That message has no audio or video to transcribe."
    states: set[str] = set()
    submitted = 0
    for file in files:
        state = await _file_state(pipeline, job.channel_id, msg, file)
        if state is None and await _submit(pipeline, job, job.channel_id, msg, file):
            submitted += 1
        else:
            states.add(state or "pending")
    if submitted:
        return None
    if "pending" in states:
        return "That recording is being transcribed right now; the transcript will appear in its thread."
    return "That recording already has a transcript in its thread."


async def _locate_file(pipeline: Pipeline, job: Job) -> str | None:
    """A file link: the file's share (here if it was shared here), then its transcription.

    Only shares in conversations the asker can read count, and nothing about the file
    (not even its name) is said before one is found.
    """
    resp = await pipeline.slack.files_info(file=job.file_id)
    file = resp.get("file") or {}
    shares: list[tuple[str, dict[str, Any]]] = []
    for kind in ("public", "private"):
        for channel, entries in ((file.get("shares") or {}).get(kind) or {}).items():
            shares += [(str(channel), entry) for entry in entries or []]
    # Here first, then wherever it was shared first.
    shares.sort(key=lambda s: s[0] != job.channel_id)
    readable = [s for s in shares if await _readable_share(pipeline, job.user_id, s[0])]
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
    state = await _file_state(pipeline, channel, msg, file)
    if state == "pending":
        return f"{name} is being transcribed right now; the transcript will appear in its thread."
    if state == "done":
        return f"{name} already has a transcript in the thread where it was shared."
    if not await _submit(pipeline, job, channel, msg, file):
        return f"{name} is being transcribed right now; the transcript will appear in its thread."
    return None


async def _readable_share(pipeline: Pipeline, user_id: str, channel: str) -> bool:
    """Can the bot answer in `channel`, and may the asker read it?"""
    try:
        return await asker_can_read(pipeline, user_id, channel)
    except SlackApiError as exc:
        if str(exc.response.get("error") or "") in _ACCESS_ERRORS:
            return False
        raise


async def asker_can_read(pipeline: Pipeline, user_id: str, channel: str) -> bool:
    """May `user_id` read `channel`? The bot acts there for them only if so.

    Public channels are open to every full member of the workspace; private channels,
    DMs and group DMs, and public channels for guests, only to their members.
    """
    info = (await pipeline.slack.conversations_info(channel=channel)).get("channel") or {}
    if not (info.get("is_private") or info.get("is_im") or info.get("is_mpim")):
        user = (await pipeline.slack.users_info(user=user_id)).get("user") or {}
        if not (user.get("is_restricted") or user.get("is_ultra_restricted")):
            return True
    cursor: str | None = None
    while True:
        page = await pipeline.slack.conversations_members(
            channel=channel, cursor=cursor, limit=1000
        )
        if user_id in (page.get("members") or []):
            return True
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return False


async def _media_of(
    pipeline: Pipeline, msg: dict[str, Any], *, keep_hidden: bool
) -> list[dict[str, Any]]:
    """The message's audio and video, stubs completed with files.info (Slack Connect).

    A file hidden by the plan's limit cannot be judged: kept where the person pointed at
    this very message (the job explains it), skipped when looking for "the latest".
    """
    found: list[dict[str, Any]] = []
    for file in media_files(msg.get("files")):
        if is_file_stub(file):
            file = (await pipeline.slack.files_info(file=str(file["id"]))).get("file") or {}
        if is_hidden_by_limit(file):
            if keep_hidden:
                found.append(file)
        elif is_media_file(file):
            found.append(file)
    return found


async def _file_state(
    pipeline: Pipeline, channel: str, msg: dict[str, Any], file: dict[str, Any]
) -> str | None:
    """`pending`, `done`, or None (never transcribed here, or it failed: may be retried)."""
    record = await pipeline.store.get_job(transcribe_job_id(channel, str(file["id"])))
    if record is not None and record.state in ("queued", "running"):
        return "pending"
    if record is not None and record.state == "done":
        return "done"
    return None


async def _submit(
    pipeline: Pipeline, job: Job, channel: str, msg: dict[str, Any], file: dict[str, Any]
) -> int:
    ts = str(msg.get("ts") or "")
    target = job.model_copy(
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
    # The same id again: a job that failed runs once more (and finds in the thread whatever
    # it had posted), and a second request meanwhile finds it queued.
    if await pipeline.queue.submit(target):
        return 1
    return int(await pipeline.queue.resubmit(target))
