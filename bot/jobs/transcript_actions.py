"""Jobs of the transcript's buttons: export a file, translate, rename speakers in place.

Each starts from the thread's stored transcript as people see it (`bot.jobs.thread_reply`);
one whose transcript is gone tells the person who asked, and posts nothing.
"""

from __future__ import annotations

from bot.jobs.rename import rename_speakers
from bot.jobs.services import JobServices
from bot.jobs.spec import Job
from bot.jobs.thread_reply import GONE, load_thread_reply
from bot.jobs.transcript_export import export_transcript
from bot.jobs.translate import translate_transcript


async def run_transcript_action(services: JobServices, job: Job, attempt: int) -> None:
    reply = await load_thread_reply(services, job.channel_id, job.thread_ts)
    if reply is None:
        await services.replies.ephemeral(job, GONE)
        return
    # Parts may be in the thread from an earlier run of this job.
    resumed = attempt > 1 or job.retry > 0 or job.transient_failures > 0
    if job.kind == "export":
        await export_transcript(services, job, reply)
    elif job.kind == "translate":
        await translate_transcript(services, job, reply, resumed=resumed)
    elif job.kind == "rename":
        await rename_speakers(services, job, reply)
    else:
        raise ValueError(f"not a transcript action: {job.kind}")
