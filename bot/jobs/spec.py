"""What a job is: the plain data a Slack handler hands to the queue.

A job is serialisable (JSON) so that both the SQLite journal and Redis can carry
it; its `id` is the dedup key, so the same file arriving through several events
(or retries, or instances) becomes one job.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

#: transcribe, answer (a question), locate (find the media a request means); and what the
#: transcript's buttons ask for: export (a file in the thread), translate, rename (speakers),
#: delete (the bot's replies and the stored transcript).
JobKind = Literal["transcribe", "answer", "locate", "export", "translate", "rename", "delete"]
JobState = Literal["queued", "running", "done", "failed"]


class Job(BaseModel):
    """One unit of work: transcribe a file into a thread, or answer a question about one."""

    id: str
    kind: JobKind = "transcribe"
    team_id: str = ""
    channel_id: str
    #: Thread to answer in; empty means "the thread of the message that shared the file",
    #: resolved from files.info when only a file_shared event was seen.
    thread_ts: str = ""
    #: The message that carries the file (reactions go there); may equal thread_ts.
    message_ts: str = ""
    file_id: str = ""
    #: Who uploaded or asked; used for speaker naming and ephemeral notices.
    user_id: str = ""
    #: True when a person asked for it (slash command, shortcut, mention, DM).
    #: Automatic jobs stay silent about files that turn out not to be media.
    requested: bool = False
    language: str | None = None
    translate_to: str | None = None
    question: str | None = None
    #: Slack's response_url of the slash command or shortcut that asked, if any: the one way
    #: to tell the person something when the bot cannot post in the channel.
    response_url: str = ""
    #: The file object from the event, when it carried one (message/file_share does): it
    #: spares a files.info call per clip, which matters under Slack's per-method limits.
    file: dict[str, Any] | None = None
    #: How many times a person asked again after this job failed (`JobQueue.resubmit`); it
    #: tells each failure's `:warning:` reply apart, and that parts may already be posted.
    retry: int = 0
    #: Transcribe again (other options were asked for): the new transcript replaces the
    #: messages of the one already in the thread, in place.
    replace_reply: bool = False
    #: export: the format (txt, srt, vtt, json, md); translate: the language code; delete:
    #: why it may go without asking Slack ("source": its source was deleted, "listed_admin":
    #: the clicker is in SCRIBE_ADMINS), else "" (the job checks the clicker's role).
    option: str = ""
    #: rename: speaker label → the name people gave it.
    names: dict[str, str] = Field(default_factory=dict)
    #: Transient failures (Gemini 429/5xx, Slack outages) in a row, and when the first of
    #: them happened: the job is put back with a due time until SCRIBE_RETRY_WINDOW_S has
    #: passed since then (`bot.jobs.retries`).
    transient_failures: int = 0
    transient_since: float | None = None
    created_at: float = Field(default_factory=time.time)


def transcribe_job_id(channel_id: str, file_id: str) -> str:
    """One transcript per file per channel: the same file shared twice in a channel dedups."""
    return f"t:{channel_id}:{file_id}"


def answer_job_id(channel_id: str, message_ts: str) -> str:
    """A question (a mention or a DM message) is answered once."""
    return f"q:{channel_id}:{message_ts}"


def followup_answer_id(transcription: Job) -> str:
    """The answer to the question a transcription was asked with, once it is done."""
    return (
        answer_job_id(transcription.channel_id, transcription.message_ts) + ":" + transcription.id
    )


def locate_job_id(channel_id: str, request_id: str) -> str:
    """A request (command, shortcut, mention) to find media: its trigger or message id."""
    return f"l:{channel_id}:{request_id}"


def thread_action_id(kind: JobKind, channel_id: str, thread_ts: str, key: str) -> str:
    """A button's job on a thread's transcript; `key` makes it once per format, language,
    modal submission or click (the dedup the button needs)."""
    return f"{kind}:{channel_id}:{thread_ts}:{key}"


def source_deleted_job_id(channel_id: str, thread_ts: str, file_id: str) -> str:
    """The cleanup after the message or file a transcript came from was deleted: once per
    thread and file, however many deletion events arrive. Its existence also tells a
    transcription still running that its recording is gone."""
    return thread_action_id("delete", channel_id, thread_ts, f"source:{file_id}")


def reply_marker(job_id: str) -> str:
    """A block_id that marks the bot's reply for a job, so a resumed job can find it in the thread."""
    return "scribe-" + hashlib.sha256(job_id.encode()).hexdigest()[:24]
