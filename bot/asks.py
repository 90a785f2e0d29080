"""Jobs that start from a person's request rather than a file: questions, and finding media.

`locate` serves `/transcribe` with no argument, message links and mentions: it
looks through the channel or thread with the Web API (which cannot happen before
Slack's 3-second ack) and then submits the real transcription job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import UserFacingError
from bot.exports import to_text
from bot.gemini import Usage
from bot.job_spec import Job, reply_marker, transcribe_job_id
from bot.prompts import question_prompt
from bot.slack_files import media_files
from bot.slack_render import render_answer
from bot.transcript import Transcript

if TYPE_CHECKING:
    from bot.jobs import Pipeline


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


async def locate_media(pipeline: Pipeline, job: Job) -> None:
    """`/transcribe` with no argument: the newest media without a transcript, then a job."""
    if job.thread_ts:
        resp = await pipeline.slack.conversations_replies(
            channel=job.channel_id, ts=job.thread_ts, limit=200
        )
        messages = list(reversed(resp.get("messages") or []))
    else:
        resp = await pipeline.slack.conversations_history(channel=job.channel_id, limit=100)
        messages = list(resp.get("messages") or [])
    for msg in messages:
        for file in media_files(msg.get("files")):
            target = transcribe_job_id(job.channel_id, str(file["id"]))
            existing = await pipeline.store.get_job(target)
            if existing is not None and existing.state in ("done", "running", "queued"):
                continue
            ts = str(msg.get("ts") or "")
            await pipeline.queue.submit(
                job.model_copy(
                    update={
                        "id": target,
                        "kind": "transcribe",
                        "file_id": str(file["id"]),
                        "thread_ts": str(msg.get("thread_ts") or ts),
                        "message_ts": ts,
                        "requested": True,
                    }
                )
            )
            return
    await pipeline.ephemeral(
        job,
        "I found no audio or video without a transcript here. Use `/transcribe <link to "
        "the message>` for an older one.",
    )
