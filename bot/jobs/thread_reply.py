"""A thread's transcript as people see it, rebuilt from the store: what exports, translations
and renames start from, so they show the names the thread shows.

The store keeps the transcript as Gemini gave it (its labels) and the names people gave
labels since (`speaker_names`). Names the transcription itself gave (a lone voice is its
sharer; a name Gemini heard becomes a hinted person's display name) and the reply's
details come from `ThreadTranscript.reply` when the link carries it (`reply_record`);
links made without it are rebuilt from the transcription's job record and `files.info`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.jobs.spec import Job, thread_action_id
from bot.slack.render import ReplyInfo
from bot.store.base import ThreadTranscript
from bot.transcript.model import Transcript
from bot.transcript.speakers import apply_speaker_names, normalise_label, unique

if TYPE_CHECKING:
    from bot.jobs.services import JobServices

logger = logging.getLogger(__name__)

#: Said to whoever used a control of a transcript the store no longer has.
GONE = (
    "I no longer have this transcript (it was deleted, or is older than this workspace keeps "
    "transcripts), so I can't do that. Mention me in the thread to transcribe it again."
)


@dataclass(frozen=True)
class ThreadReply:
    """The stored transcript of a thread, with what it takes to show it as posted."""

    thread: ThreadTranscript
    #: As Gemini gave it: labels not yet named.
    stored: Transcript
    info: ReplyInfo
    #: Names the transcription gave labels (label → name), before anyone renamed them.
    auto_names: dict[str, str]

    @property
    def labels(self) -> list[str]:
        """The transcript's speaker labels, in order of first appearance."""
        return unique(normalise_label(s.speaker) for s in self.stored.segments)

    @property
    def names(self) -> dict[str, str]:
        """Every label's name now: people's renames over the transcription's own."""
        return {**self.auto_names, **self.thread.speaker_names}

    def name_of(self, label: str) -> str:
        return self.names.get(label, label)

    def named(self, transcript: Transcript | None = None) -> Transcript:
        """`transcript` (the stored one, or a translation of it) with the names shown."""
        t = transcript or self.stored
        segments = [
            s.model_copy(update={"speaker": self.name_of(normalise_label(s.speaker))})
            for s in t.segments
        ]
        return t.model_copy(
            update={"segments": segments, "speakers": unique(s.speaker for s in segments)}
        )

    def renamed(self, names: dict[str, str]) -> ThreadReply:
        """This reply after a rename (`names` as the store merged them)."""
        thread = dataclasses.replace(self.thread, speaker_names=names)
        return dataclasses.replace(self, thread=thread)

    @property
    def job(self) -> Job:
        """The transcription job whose reply this is (its parts carry its markers)."""
        t = self.thread
        return Job(id=t.job_id, channel_id=t.channel_id, thread_ts=t.thread_ts)

    @property
    def version(self) -> str:
        return transcript_version(self.thread)


def transcript_version(thread: ThreadTranscript) -> str:
    """Changes when the thread's transcript or its names do: an export is made once per
    format and version."""
    names = json.dumps(thread.speaker_names, sort_keys=True, ensure_ascii=False)
    version = f"{thread.cache_key}\n{names}\n{thread.linked_at!r}"
    return hashlib.sha256(version.encode()).hexdigest()[:12]


def export_key(fmt: str, thread: ThreadTranscript) -> str:
    return f"{fmt}:{transcript_version(thread)}"


def export_job_id(thread: ThreadTranscript, fmt: str) -> str:
    key = export_key(fmt, thread)
    return thread_action_id("export", thread.channel_id, thread.thread_ts, key)


def translate_job_id(thread: ThreadTranscript, target: str) -> str:
    """Once per language and transcript in a thread (renames edit it in place)."""
    # The link's time: after a deletion the same recording transcribed again is translated
    # again (the earlier translation's job is done, and its messages gone).
    key = f"{target}:{thread.cache_key}:{thread.linked_at!r}"
    return thread_action_id("translate", thread.channel_id, thread.thread_ts, key)


def translation_cache_key(thread: ThreadTranscript, target: str) -> str:
    """`<file id>:<language>:<target>`, the scheme of the transcription's cache keys: a
    transcript asked for with that translation and a translation of it are one entry."""
    parts = thread.cache_key.split(":")
    language = parts[1] if len(parts) == 3 else ""
    return f"{thread.file_id}:{language}:{target}"


def reply_record(stored: Transcript, shown: Transcript, info: ReplyInfo) -> str:
    """What `link_thread(reply=…)` keeps: the reply's details and the names the
    transcription gave (`shown` is `stored` as posted)."""
    names = _given_names(stored, shown)
    return json.dumps({"info": dataclasses.asdict(info), "names": names}, ensure_ascii=False)


def _given_names(stored: Transcript, shown: Transcript) -> dict[str, str]:
    """Label → the name `shown` gives it, where that differs from the label."""
    return {
        normalise_label(a.speaker): b.speaker
        for a, b in zip(stored.segments, shown.segments, strict=True)
        if normalise_label(a.speaker) != b.speaker
    }


async def load_thread_reply(
    services: JobServices, channel_id: str, thread_ts: str
) -> ThreadReply | None:
    """The thread's transcript as posted; None when the store has none."""
    thread = await services.store.thread_transcript(channel_id, thread_ts)
    if thread is None:
        return None
    stored = Transcript.model_validate_json(thread.transcript_json)
    record = _read_record(thread.reply)
    if record is not None:
        info, names = record
        return ThreadReply(thread, stored, info, names)
    info, names = await _rebuilt(services, thread, stored)
    return ThreadReply(thread, stored, info, names)


def recorded_names(thread: ThreadTranscript) -> dict[str, str]:
    """The names the transcription gave labels, as its link recorded them ({} if not)."""
    record = _read_record(thread.reply)
    return record[1] if record is not None else {}


def _read_record(raw: str) -> tuple[ReplyInfo, dict[str, str]] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
        info = ReplyInfo(**data["info"])
        names = {str(k): str(v) for k, v in dict(data.get("names") or {}).items()}
    except (ValueError, TypeError, KeyError):
        logger.warning("unreadable reply record; rebuilding it")
        return None
    return info, names


async def _rebuilt(
    services: JobServices, thread: ThreadTranscript, stored: Transcript
) -> tuple[ReplyInfo, dict[str, str]]:
    """The reply's details and automatic names from the transcription's job record and
    the file, as `bot.jobs.transcription` made them. Lost on this path: the number of
    chunks, and names matched to hinted people (the hints are not kept)."""
    record = await services.store.get_job(thread.job_id) if thread.job_id else None
    job = record.job if record is not None else None
    file: dict[str, Any] = dict(job.file or {}) if job is not None else {}
    if not file:
        try:
            found = (await services.slack.files_info(file=thread.file_id)).get("file")
            file = dict(found) if isinstance(found, dict) else {}
        except SlackApiError as exc:
            logger.info("files.info for a rebuilt reply: %s", exc.response.get("error"))
    sharer = str(file.get("user") or "")
    asker = job.user_id if job is not None else ""
    uploader = await services.replies.display_name(sharer or asker)
    shown = apply_speaker_names(stored, uploader_name=uploader)
    parts = thread.cache_key.split(":")
    info = ReplyInfo(
        file_name=str(file.get("name") or file.get("title") or "this file"),
        duration_s=thread.duration_s,
        translated_to=(parts[2] or None) if len(parts) == 3 else None,
        requested_by=asker if job is not None and job.requested and asker != sharer else None,
    )
    return info, _given_names(stored, shown)
