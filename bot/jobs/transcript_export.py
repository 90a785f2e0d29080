"""The Download menu's job: the thread's transcript, names included, as a file in the thread.

Once per format and version of the transcript (a rename or a new transcript is a new
version): the file's permalink is kept with the thread, and the menu points at it after.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from bot.jobs.services import JobServices
from bot.jobs.spec import Job
from bot.jobs.thread_reply import ThreadReply, export_key
from bot.slack.controls_render import DOWNLOAD_OPTIONS
from bot.slack.messages import Attachment
from bot.transcript.exports import DOWNLOADS, EXTENSIONS, FORMATS


def export_file(reply: ThreadReply, fmt: str) -> Attachment:
    """The export of `reply` in `fmt` (an option of the Download menu)."""
    kind = DOWNLOADS[fmt]
    name = reply.info.file_name
    stem = PurePosixPath(name.replace("\\", "/")).stem or "recording"
    content = FORMATS[kind](reply.named(), duration_s=reply.info.duration_s)
    return Attachment(
        filename=f"{stem}-transcript{EXTENSIONS[kind]}",
        # Not the titles of the files a long reply attaches: a new transcript in the thread
        # replaces those (`Replies.replace`), never a download someone asked for.
        title=f"Transcript of {name}, {DOWNLOAD_OPTIONS[fmt]}",
        content=content,
    )


async def export_transcript(services: JobServices, job: Job, reply: ThreadReply) -> None:
    key = export_key(job.option, reply.thread)
    if key in reply.thread.exports:
        return  # an earlier run uploaded it and said so
    file = await services.replies.upload(job, export_file(reply, job.option))
    await services.store.record_export(
        job.channel_id, job.thread_ts, key, str(file.get("permalink") or "")
    )
