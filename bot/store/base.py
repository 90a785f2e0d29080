"""What the pipeline remembers, behind one protocol with two backends.

The embedded backend is SQLite (`bot.store.sqlite`), the scaled-out one Redis
(`bot.store.redis`). Both keep: per-channel settings and
vocabulary, the record of each job's
posted reply (for exactly-once posting), and transcripts by file (so the same
file shared in several channels is sent to Gemini once, and questions in a
transcribed thread can be answered).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.jobs.spec import Job, JobState


@dataclass(frozen=True)
class ChannelSettings:
    """A channel's choices; `None` means "use the app-wide default"."""

    auto_transcribe: bool | None = None
    language: str | None = None
    translate_to: str | None = None


@dataclass(frozen=True)
class JobRecord:
    job: Job
    state: JobState
    attempts: int
    last_error: str | None
    reply_ts: str | None


@dataclass(frozen=True)
class ThreadTranscript:
    """The transcript posted in a thread: for questions, exports, renames and deletion."""

    file_id: str
    transcript_json: str
    duration_s: float
    channel_id: str = ""
    thread_ts: str = ""
    cache_key: str = ""
    #: The transcription job whose reply this is (its messages carry its marker).
    job_id: str = ""
    #: Names people gave the speaker labels in this thread (label → name).
    speaker_names: dict[str, str] = field(default_factory=dict)
    #: How the reply was rendered (`bot.jobs.thread_reply`), to render it again after a
    #: rename; "" for links made without it.
    reply: str = ""
    #: Files the Download menu put in the thread: export key → the file's permalink.
    exports: dict[str, str] = field(default_factory=dict)
    #: When this transcript was linked to the thread (epoch seconds): a transcript deleted
    #: and made again is another one, whose buttons start afresh (`bot.jobs.thread_reply`).
    linked_at: float = 0.0


class Store(Protocol):
    async def ping(self) -> None:
        """Raise if the backend cannot be read and written."""

    async def get_channel_settings(self, channel_id: str) -> ChannelSettings: ...

    async def update_channel_settings(self, channel_id: str, **changes: object) -> ChannelSettings:
        """Set the named fields (auto_transcribe, language, translate_to); return the result."""

    async def get_vocabulary(self, channel_id: str) -> list[str]:
        """The channel's vocabulary terms, oldest first."""

    async def add_vocabulary(self, channel_id: str, terms: list[str]) -> list[str]:
        """Add terms not already there (case-insensitively); return the whole vocabulary.

        Limits (count, length) are the caller's (`bot.slack.intake`).
        """

    async def remove_vocabulary(self, channel_id: str, term: str) -> str | None:
        """Remove the term that matches `term` case-insensitively; return it, or None."""

    async def get_job(self, job_id: str) -> JobRecord | None: ...

    async def record_reply(self, job_id: str, reply_ts: str) -> None:
        """Remember that the job's reply was posted (its ts)."""

    async def get_cached_transcript(self, key: str) -> tuple[str, float] | None:
        """(transcript JSON, duration) by cache key (file id + options), if known."""

    async def cache_transcript(self, key: str, transcript_json: str, duration_s: float) -> None: ...

    async def link_thread(
        self,
        channel_id: str,
        thread_ts: str,
        file_id: str,
        cache_key: str,
        job_id: str = "",
        reply: str = "",
    ) -> None:
        """The thread's transcript is whole and posted (names given earlier and exports
        start over); `reply`: how it was rendered (`ThreadTranscript.reply`)."""

    async def thread_transcript(
        self, channel_id: str, thread_ts: str
    ) -> ThreadTranscript | None: ...

    async def rename_speakers(
        self, channel_id: str, thread_ts: str, names: dict[str, str]
    ) -> dict[str, str] | None:
        """Merge `names` (label → name; an empty name removes one) into the thread's names.

        Returns all the thread's names, or None when the thread has no transcript.
        """

    async def record_export(
        self, channel_id: str, thread_ts: str, key: str, permalink: str
    ) -> None:
        """Remember a file the Download menu put in the thread (no thread: nothing)."""

    async def forget_thread(self, channel_id: str, thread_ts: str) -> ThreadTranscript | None:
        """Delete the thread's transcript link; and the file's cached transcripts (every
        option and translation) unless another thread still links that file. Returns what
        was linked, or None."""

    async def threads_of_file(self, file_id: str) -> list[ThreadTranscript]:
        """Every thread whose transcript is of this file (a file can be shared in several)."""

    async def purge(self, older_than_s: float) -> int:
        """Delete finished jobs and transcripts older than this; return how many rows went."""

    async def close(self) -> None: ...


def merge_names(current: dict[str, str], changes: dict[str, str]) -> dict[str, str]:
    """Speaker names after a rename: new names win, an empty one removes the label's name."""
    merged = dict(current)
    for label, name in changes.items():
        if name.strip():
            merged[label] = name.strip()
        else:
            merged.pop(label, None)
    return merged
