"""The pipeline of one job: react → files.info → download → prepare → transcribe → post.

Every job ends in exactly one of: a transcript reply, a `:warning:` reply that
says what went wrong and what to try, or (automatic jobs on files that are not
media) silence. Replies carry a marker block_id so that a job resumed after a
crash finds what it already posted in the thread and does not post it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import (
    NO_SOUND_TRACK,
    FileAccessError,
    NotMediaError,
    PartialDeliveryError,
    UserFacingError,
)
from bot.gemini.chunked import transcribe_recording
from bot.gemini.config import Transcriber, Usage
from bot.gemini.prompts import TranscribeOptions
from bot.jobs.locate import answer_question, ask_after_transcript, locate_media
from bot.jobs.spec import Job, reply_marker
from bot.ops.logs import job_context
from bot.ops.metrics import Metrics
from bot.queue.base import MAX_ATTEMPTS, JobQueue, LeaseLost, Outcome, confirm_lease
from bot.slack.files import download_slack_file, hidden_file_error, is_media_file, too_large
from bot.slack.render import Delivery, ReplyInfo, SlackMessage, plan_delivery, render_failure
from bot.store.base import Store
from bot.transcript.checks import apply_speaker_names
from bot.transcript.model import Transcript

logger = logging.getLogger(__name__)

#: users.info is Tier 4 (~100/min); display names are cached per process.
_NAME_CACHE_SIZE = 5000

WORKING = "hourglass_flowing_sand"
DONE = "white_check_mark"
FAILED = "warning"

_FILE_ACCESS_ERRORS = {
    "file_not_found": "I can't see this file any more: it was deleted, or it was shared "
    "somewhere I'm not a member of. Invite me (`/invite @slack-scribe`) and share it again.",
    "file_deleted": "This file was deleted before I could transcribe it.",
    "not_visible": "I'm not allowed to see this file. Invite me to the channel it was shared "
    "in (`/invite @slack-scribe`) and ask again.",
}


@dataclass(frozen=True)
class PipelineConfig:
    api_url: str
    bot_token: str
    max_file_bytes: int
    max_audio_minutes: float
    auto_transcribe: bool
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0
    tmp_dir: str | None = None
    #: Chunks are planned in multiples of this (SCRIBE_MAX_CONCURRENCY).
    gemini_concurrency: int = 4
    #: Wall-clock limit for one job, all stages (SCRIBE_JOB_BUDGET_S).
    job_budget_s: float = 1800.0


class Pipeline:
    """Runs jobs; an instance is the `JobHandler` given to the queue."""

    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        http: aiohttp.ClientSession,
        store: Store,
        queue: JobQueue,
        gemini: Transcriber,
        metrics: Metrics,
        config: PipelineConfig,
        decor: AsyncWebClient | None = None,
    ) -> None:
        self.slack = slack
        self.decor = decor or slack
        self._names: dict[str, str | None] = {}
        self.http = http
        self.store = store
        self.queue = queue
        self.gemini = gemini
        self.metrics = metrics
        self.config = config

    async def __call__(self, job: Job, attempt: int) -> Outcome:
        with job_context(job.id, job.channel_id, job.file_id):
            return await self._run(job, attempt)

    async def _run(self, job: Job, attempt: int) -> Outcome:
        logger.info("job started: %s, attempt %d", job.kind, attempt)
        if attempt > MAX_ATTEMPTS:
            # The process died during each earlier start: do not risk it again.
            logger.error("job gave up after %d starts", attempt - 1)
            self.metrics.failures.labels(reason="crash_loop").inc()
            await self._report_failure(
                job,
                "I stopped working on this recording: processing it failed repeatedly on my "
                "side. It has been logged for the app's admin; try again later or share a "
                "shorter recording.",
            )
            self.metrics.jobs.labels(kind=job.kind, outcome="failed").inc()
            return "failed"
        self.metrics.in_flight.inc()
        started = time.monotonic()
        # One limit for the whole job, so that it ends with a message here rather than
        # being cut off silently by a queue's own backstop timeout.
        deadline = asyncio.timeout(self.config.job_budget_s)
        try:
            async with deadline:
                if job.kind == "answer":
                    await answer_question(self, job)
                elif job.kind == "locate":
                    await locate_media(self, job)
                else:
                    await self._transcribe(job, attempt)
                    if job.question:  # asked before there was a transcript: answer it now
                        await ask_after_transcript(self, job)
            outcome: Outcome = "done"
        except TimeoutError:
            outcome = "failed"
            if deadline.expired():
                logger.warning("job ran past its budget of %.0f s", self.config.job_budget_s)
                self.metrics.failures.labels(reason="job_budget").inc()
                await self._report_failure(
                    job,
                    f"This took longer than the {self.config.job_budget_s / 60:.0f} min I allow "
                    "for one recording, so I stopped. Try again later (mention me in this "
                    "thread), or share a shorter recording.",
                )
            else:
                # A client's own limit (a Slack call, the download): as transient as a 503.
                logger.warning("a call timed out", exc_info=True)
                self.metrics.failures.labels(reason="timeout").inc()
                await self._report_failure(
                    job,
                    "A request to Slack or the download of the file timed out, so I stopped. "
                    "This is usually temporary: mention me in this thread to try again in a "
                    "minute.",
                )
        except LeaseLost:
            raise  # another worker owns the job now: it reports the outcome, not this run
        except NotMediaError as exc:
            logger.info("not media: %s", exc.reason)
            self.metrics.failures.labels(reason=exc.reason).inc()
            # Slack called it audio or video, so its sharer expects a transcript; only a
            # video without sound (screen recordings) is no failure when nobody asked.
            if job.requested or exc.reason != NO_SOUND_TRACK:
                await self._report_failure(job, str(exc))
            else:
                await self._react(job, remove=WORKING)
            outcome = "failed"
        except UserFacingError as exc:
            logger.info("job failed: %s (%s)", exc.reason, exc)
            self.metrics.failures.labels(reason=exc.reason).inc()
            await self._report_failure(job, str(exc))
            outcome = "failed"
        except Exception:
            logger.exception("job crashed")
            self.metrics.failures.labels(reason="internal").inc()
            await self._report_failure(
                job,
                "Something went wrong on my side while working on this. It has been logged; "
                "mention me in this thread to try again.",
            )
            outcome = "failed"
        finally:
            self.metrics.in_flight.dec()
            self.metrics.stage_seconds.labels(stage="total").observe(time.monotonic() - started)
        self.metrics.jobs.labels(kind=job.kind, outcome=outcome).inc()
        logger.info("job %s in %.1f s", outcome, time.monotonic() - started)
        return outcome

    # -- transcribe -------------------------------------------------------------------------

    async def _transcribe(self, job: Job, attempt: int) -> None:
        file = job.file if job.file and attempt == 1 else await self._file_info(job)
        # Before anything else: a file hidden by the plan's limit has no shares to reply to.
        if (hidden := hidden_file_error(file)) is not None:
            raise hidden
        job = await self._resolve_thread(job, file)
        name = str(file.get("name") or file.get("title") or "this file")
        if not is_media_file(file):
            if job.requested:
                raise NotMediaError(
                    f"{name} isn't audio or video, so there is nothing to transcribe."
                )
            return
        size = int(file.get("size") or 0)
        if size > self.config.max_file_bytes:
            raise too_large(name, size, self.config.max_file_bytes)
        await self._react(job, add=WORKING)
        settings = await self.store.get_channel_settings(job.channel_id)
        options = TranscribeOptions(
            language=job.language or settings.language,
            translate_to=job.translate_to or settings.translate_to,
        )
        cache_key = f"{job.file_id}:{options.language or ''}:{options.translate_to or ''}"
        cached = await self.store.get_cached_transcript(cache_key)
        chunks = 1
        if cached is not None:
            transcript = Transcript.model_validate_json(cached[0])
            duration_s = cached[1]
            logger.info("transcript found in cache")
        else:
            transcript, duration_s, chunks = await self._fresh_transcript(job, file, name, options)
            await self.store.cache_transcript(cache_key, transcript.model_dump_json(), duration_s)
        uploader = await self._display_name(str(file.get("user") or job.user_id))
        transcript = apply_speaker_names(transcript, uploader_name=uploader)
        info = ReplyInfo(
            file_name=name,
            duration_s=duration_s,
            translated_to=options.translate_to,
            chunks=chunks,
        )
        with self.stage("post"):
            await self._deliver(job, plan_delivery(transcript, info), attempt)
        # Only a whole transcript links the thread: questions and "already transcribed"
        # answers must never point at a reply that is not all there.
        await self.store.link_thread(job.channel_id, job.thread_ts, job.file_id, cache_key)
        await self._react(job, remove=WORKING, add=DONE)

    async def _fresh_transcript(
        self, job: Job, file: dict[str, Any], name: str, options: TranscribeOptions
    ) -> tuple[Transcript, float, int]:
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        if not url:
            raise FileAccessError(f"Slack gave me no download link for {name}; re-share it.")
        async with self._workdir() as workdir:
            source = workdir / "source"
            with self.stage("download"):
                await download_slack_file(
                    self.http,
                    url,
                    source,
                    token=self.config.bot_token,
                    api_url=self.config.api_url,
                    max_bytes=self.config.max_file_bytes,
                    file_name=name,
                )
            with self.stage("prepare"):
                # PyAV and numpy load with the first job, in a thread (not on the loop).
                media = await asyncio.to_thread(importlib.import_module, "bot.media.prepare")
                audio = await asyncio.to_thread(
                    media.prepare_audio, source, workdir, max_minutes=self.config.max_audio_minutes
                )
            source.unlink(missing_ok=True)  # free disk early; the prepared audio is enough
            usage = Usage()
            with self.stage("gemini"):
                transcript, chunks = await transcribe_recording(
                    self.gemini,
                    audio,
                    workdir,
                    options,
                    usage,
                    concurrency=self.config.gemini_concurrency,
                )
            self.count_usage(usage, audio.duration_s)
            return transcript, audio.duration_s, chunks

    async def _file_info(self, job: Job) -> dict[str, Any]:
        try:
            resp = await self.slack.files_info(file=job.file_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in _FILE_ACCESS_ERRORS:
                raise FileAccessError(_FILE_ACCESS_ERRORS[error], reason=error) from exc
            raise
        file = resp.get("file")
        if not isinstance(file, dict):
            raise FileAccessError("Slack returned no details for this file; re-share it.")
        return file

    async def _resolve_thread(self, job: Job, file: dict[str, Any]) -> Job:
        """A file_shared event has no message ts; find the share in files.info."""
        if job.thread_ts and job.message_ts:
            return job
        for kind in ("public", "private"):
            shares = ((file.get("shares") or {}).get(kind) or {}).get(job.channel_id) or []
            if shares:
                share = shares[0]
                ts = str(share.get("ts") or "")
                thread = str(share.get("thread_ts") or ts)
                return job.model_copy(
                    update={"thread_ts": job.thread_ts or thread, "message_ts": ts}
                )
        if job.thread_ts:
            return job.model_copy(update={"message_ts": job.thread_ts})
        raise FileAccessError(
            "I couldn't find the message this file was shared in. Use `/transcribe` with a "
            "link to the message.",
            reason="no_share",
        )

    async def _deliver(self, job: Job, delivery: Delivery, attempt: int) -> None:
        """Post every part not yet in the thread; a partial delivery says what is missing."""
        marker = reply_marker(job.id)
        # A resumed run or a retry may find parts already posted; a first run cannot.
        resumed = attempt > 1 or job.retry > 0
        already = await self._posted_parts(job, marker) if resumed else {"__files__": set()}
        total = len(delivery.messages)
        present = {i for i in range(total) if f"{marker}-{i}" in already}
        for index, message in enumerate(delivery.messages):
            if index in present:
                continue
            try:
                ts = await self.post(job, message, f"{marker}-{index}")
            except (LeaseLost, asyncio.CancelledError):
                raise
            except Exception as exc:
                if not present:
                    raise  # nothing is in the thread: an ordinary failure
                raise _partial_delivery(present, total, exc) from exc
            present.add(index)
            if index == 0:
                await self.store.record_reply(job.id, ts)
        titles = {a.title for a in delivery.attachments}
        if delivery.attachments and not (already.get("__files__", set()) & titles):
            await confirm_lease()
            try:
                await self.slack.files_upload_v2(
                    channel=job.channel_id,
                    thread_ts=job.thread_ts,
                    file_uploads=[
                        {"content": a.content, "filename": a.filename, "title": a.title}
                        for a in delivery.attachments
                    ],
                )
            except SlackApiError as exc:
                raise PartialDeliveryError(
                    "I posted the transcript above, but Slack refused the files with the whole "
                    f"transcript ({_slack_error(exc)}). Mention me in this thread and I'll "
                    "attach them."
                ) from exc

    async def _posted_parts(self, job: Job, marker: str) -> dict[str, Any]:
        """Markers of this job's messages already in the thread (and titles of its files)."""
        found: dict[str, Any] = {"__files__": set()}
        cursor: str | None = None
        while True:
            resp = await self.slack.conversations_replies(
                channel=job.channel_id, ts=job.thread_ts, cursor=cursor, limit=200
            )
            for msg in resp.get("messages") or []:
                for block in msg.get("blocks") or []:
                    block_id = str(block.get("block_id") or "")
                    if block_id.startswith(marker):
                        found[block_id] = msg.get("ts")
                for f in msg.get("files") or []:
                    found["__files__"].add(f.get("title"))
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return found

    async def post(self, job: Job, message: SlackMessage, marker: str) -> str:
        """Post in the job's thread; the first block carries `marker` (see `reply_marker`)."""
        await confirm_lease()  # a run that lost its job to another worker posts nothing
        blocks = [dict(b) for b in message.blocks]
        if blocks:
            blocks[0]["block_id"] = marker
        resp = await self.slack.chat_postMessage(
            channel=job.channel_id,
            thread_ts=job.thread_ts or None,
            text=message.text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(resp["ts"])

    # -- helpers --------------------------------------------------------------------------------

    async def _report_failure(self, job: Job, text: str) -> None:
        """One `:warning:` reply in the thread (or ephemeral when there is no thread)."""
        try:
            if not job.thread_ts:
                await self.ephemeral(job, ":warning: " + text)
                return
            # One warning per run: a retry's failure is news, a resumed run's is not.
            marker = f"{reply_marker(job.id)}-w{job.retry}"
            already = await self._posted_parts(job, reply_marker(job.id))
            if marker not in already:
                await self.post(job, render_failure(text, job_id=job.id), marker)
            await self._react(job, remove=WORKING, add=FAILED)
        except Exception:
            logger.exception("could not report the failure of job %s", job.id)

    async def ephemeral(self, job: Job, text: str) -> None:
        if not job.user_id:
            return
        await self.slack.chat_postEphemeral(
            channel=job.channel_id, user=job.user_id, text=text, thread_ts=job.thread_ts or None
        )

    async def _react(self, job: Job, *, add: str | None = None, remove: str | None = None) -> None:
        ts = job.message_ts or job.thread_ts
        if not ts:
            return
        # Reactions go through a client that does not wait out rate limits: under a burst
        # a missing hourglass is better than a transcript delayed by a minute.
        for method, name in (
            (self.decor.reactions_remove, remove),
            (self.decor.reactions_add, add),
        ):
            if name is None:
                continue
            try:
                await method(channel=job.channel_id, timestamp=ts, name=name)
            except SlackApiError as exc:
                # Reactions are decoration: already there, already gone, or not allowed.
                logger.debug("reaction %s: %s", name, exc.response.get("error"))

    async def _display_name(self, user_id: str) -> str | None:
        if not user_id:
            return None
        if user_id in self._names:
            return self._names[user_id]
        try:
            resp = await self.slack.users_info(user=user_id)
        except SlackApiError:
            return None
        user = resp.get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
        if len(self._names) >= _NAME_CACHE_SIZE:
            self._names.clear()  # names rarely change; a crude bound is enough
        self._names[user_id] = str(name) if name else None
        return self._names[user_id]

    def count_usage(self, usage: Usage, duration_s: float) -> None:
        m = self.metrics
        m.audio_minutes.inc(duration_s / 60.0)
        m.gemini_tokens.labels(direction="input").inc(usage.input_tokens)
        m.gemini_tokens.labels(direction="output").inc(usage.output_tokens)
        m.gemini_tokens.labels(direction="thought").inc(usage.thought_tokens)
        # Gemini bills thinking as output.
        m.gemini_cost.inc(
            usage.input_tokens / 1e6 * self.config.price_input_per_mtok
            + usage.billable_output_tokens / 1e6 * self.config.price_output_per_mtok
        )

    @contextlib.contextmanager
    def stage(self, stage: str) -> Any:
        started = time.monotonic()
        try:
            yield
        finally:
            self.metrics.stage_seconds.labels(stage=stage).observe(time.monotonic() - started)

    @contextlib.asynccontextmanager
    async def _workdir(self) -> AsyncIterator[Path]:
        with tempfile.TemporaryDirectory(prefix="scribe-", dir=self.config.tmp_dir) as tmp:
            yield Path(tmp)


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack answered: {exc.response.get('error') or 'an error'}"
    return f"{type(exc).__name__}"


def _parts(indices: list[int]) -> str:
    words = [str(i + 1) for i in indices]
    return ("part " if len(words) == 1 else "parts ") + ", ".join(words)


def _partial_delivery(present: set[int], total: int, cause: Exception) -> PartialDeliveryError:
    missing = [i for i in range(total) if i not in present]
    return PartialDeliveryError(
        f"I posted {_parts(sorted(present))} of {total} of the transcript above, but could not "
        f"post {_parts(missing)} ({_slack_error(cause)}). Mention me in this thread and I'll "
        "post what is missing."
    )
