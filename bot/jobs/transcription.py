"""A transcription job: files.info → download → prepare → transcribe → post in the thread.

A job resumed after a crash (attempt 2+) or asked for again after a failure (retry 1+)
may find parts of its reply already in the thread: `Replies.deliver` posts the rest. The
transcript is kept by file (and options) before it is posted, so Gemini is not asked
twice, and the thread is linked to it only once the whole reply is there.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.errors import FileAccessError, NotMediaError
from bot.gemini.chunked import transcribe_recording
from bot.gemini.config import Usage
from bot.gemini.progress import Progress
from bot.gemini.prompts import TranscribeOptions
from bot.jobs.context import gather_context
from bot.jobs.services import JobServices
from bot.jobs.spec import Job, source_deleted_job_id
from bot.jobs.status import JobStatus, progress_text
from bot.jobs.thread_reply import reply_record
from bot.media import pool as media_pool
from bot.slack.errors import user_message
from bot.slack.files import download_slack_file, hidden_file_error, is_media_file, too_large
from bot.slack.render import ReplyInfo, plan_delivery
from bot.slack.replies import DONE, WORKING
from bot.transcript.model import Transcript
from bot.transcript.speakers import apply_speaker_names

logger = logging.getLogger(__name__)

#: Recordings longer than this get a status message in the thread while they are worked on.
STATUS_ABOVE_S = 120.0


async def transcribe_file(services: JobServices, job: Job, attempt: int, status: JobStatus) -> None:
    s = services
    file = job.file if job.file and attempt == 1 else await _file_info(s, job)
    # Before anything else: a file hidden by the plan's limit has no shares to reply to.
    if (hidden := hidden_file_error(file)) is not None:
        raise hidden
    job = _resolve_thread(job, file)
    status.rebind(job)
    # Parts of the reply, or a status message, may be in the thread from an earlier run.
    resumed = attempt > 1 or job.retry > 0 or job.transient_failures > 0
    if resumed:
        await status.find()
    name = str(file.get("name") or file.get("title") or "this file")
    if not is_media_file(file):
        if job.requested:
            raise NotMediaError(f"{name} isn't audio or video, so there is nothing to transcribe.")
        return
    size = int(file.get("size") or 0)
    if size > s.config.max_file_bytes:
        raise too_large(name, size, s.config.max_file_bytes)
    await s.replies.react(job, add=WORKING)
    settings = await s.store.get_channel_settings(job.channel_id)
    # Hints only help: None (logged) when Slack could not be read.
    room = await gather_context(s, job, file)
    options = TranscribeOptions(
        language=job.language or settings.language,
        translate_to=job.translate_to or settings.translate_to,
        hints=room.hints if room else None,
    )
    cache_key = f"{job.file_id}:{options.language or ''}:{options.translate_to or ''}"
    cached = await s.store.get_cached_transcript(cache_key)
    chunks = 1
    if cached is not None:
        transcript = Transcript.model_validate_json(cached[0])
        duration_s = cached[1]
        logger.info("transcript found in cache")
    else:
        transcript, duration_s, chunks = await _fresh_transcript(s, file, name, options, status)
        await s.store.cache_transcript(cache_key, transcript.model_dump_json(), duration_s)
    uploader = await s.replies.display_name(str(file.get("user") or job.user_id))
    stored = transcript
    transcript = apply_speaker_names(
        transcript, uploader_name=uploader, people=room.people if room else ()
    )
    sharer = str(file.get("user") or "")
    info = ReplyInfo(
        file_name=name,
        duration_s=duration_s,
        translated_to=options.translate_to,
        chunks=chunks,
        # Whoever asked for someone else's recording is named on the reply.
        requested_by=job.user_id if job.requested and job.user_id != sharer else None,
    )
    if await s.store.get_job(source_deleted_job_id(job.channel_id, job.thread_ts, job.file_id)):
        # Deleted while it was transcribed (the wrong file, shared by mistake): say nothing.
        logger.info("the recording was deleted meanwhile; nothing posted")
        await status.remove()
        return
    with s.metrics.stage("post"):
        delivery = plan_delivery(transcript, info)
        if job.replace_reply:  # asked again with other options: the old transcript goes
            first_ts = await s.replies.replace(job, delivery)
        else:
            first_ts = await s.replies.deliver(job, delivery, resumed=resumed)
    if first_ts:
        await s.store.record_reply(job.id, first_ts)
    # Only a whole transcript links the thread: questions and "already transcribed"
    # answers must never point at a reply that is not all there.
    # With how it was rendered and the names it gave: a rename renders it again the same.
    reply = reply_record(stored, transcript, info)
    await s.store.link_thread(
        job.channel_id, job.thread_ts, job.file_id, cache_key, job.id, reply=reply
    )
    await status.remove()
    await s.replies.react(job, remove=WORKING, add=DONE)


async def _fresh_transcript(
    s: JobServices, file: dict[str, Any], name: str, options: TranscribeOptions, status: JobStatus
) -> tuple[Transcript, float, int]:
    url = str(file.get("url_private_download") or file.get("url_private") or "")
    if not url:
        raise FileAccessError(f"Slack gave me no download link for {name}; re-share it.")
    async with _workdir(s.config.tmp_dir) as workdir:
        source = workdir / "source"
        with s.metrics.stage("download"):
            await download_slack_file(
                s.http,
                url,
                source,
                token=s.config.bot_token,
                api_url=s.config.api_url,
                max_bytes=s.config.max_file_bytes,
                file_name=name,
            )
        with s.metrics.stage("prepare"):
            # In a media worker process: transcoding never holds this process's GIL. A
            # cancelled job kills the worker; leaving `_workdir` then removes its files.
            audio = await s.media.prepare_audio(
                source, workdir, max_minutes=s.config.max_audio_minutes
            )
        source.unlink(missing_ok=True)  # free disk early; the prepared audio is enough
        if audio.duration_s > STATUS_ABOVE_S or status.ts is not None:
            await status.show(progress_text(name, audio.duration_s, Progress("transcribing", 0, 1)))

        def on_progress(event: Progress) -> None:
            status.soon(progress_text(name, audio.duration_s, event))

        usage = Usage()
        # Long recordings are split in the same pool (bot.media.pool.split_audio).
        with s.metrics.stage("gemini"), media_pool.using(s.media):
            transcript, chunks = await transcribe_recording(
                s.transcriber,
                audio,
                workdir,
                options,
                usage,
                concurrency=s.config.gemini_concurrency,
                on_progress=on_progress,
            )
        s.count_usage(usage, audio.duration_s)
        return transcript, audio.duration_s, chunks


async def _file_info(s: JobServices, job: Job) -> dict[str, Any]:
    try:
        resp = await s.slack.files_info(file=job.file_id)
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if (text := user_message(error)) is not None:
            raise FileAccessError(text, reason=error) from exc
        raise
    file = resp.get("file")
    if not isinstance(file, dict):
        raise FileAccessError("Slack returned no details for this file; re-share it.")
    return file


def _resolve_thread(job: Job, file: dict[str, Any]) -> Job:
    """A file_shared event has no message ts; find the share in files.info."""
    if job.thread_ts and job.message_ts:
        return job
    for kind in ("public", "private"):
        shares = ((file.get("shares") or {}).get(kind) or {}).get(job.channel_id) or []
        if shares:
            share = shares[0]
            ts = str(share.get("ts") or "")
            thread = str(share.get("thread_ts") or ts)
            return job.model_copy(update={"thread_ts": job.thread_ts or thread, "message_ts": ts})
    if job.thread_ts:
        return job.model_copy(update={"message_ts": job.thread_ts})
    raise FileAccessError(
        "I couldn't find the message this file was shared in. Use `/transcribe` with a "
        "link to the message.",
        reason="no_share",
    )


@contextlib.asynccontextmanager
async def _workdir(tmp_dir: str | None) -> AsyncIterator[Path]:
    with tempfile.TemporaryDirectory(prefix="scribe-", dir=tmp_dir) as tmp:
        yield Path(tmp)
