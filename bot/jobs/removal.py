"""The delete job: the bot's replies in the thread and the stored transcript go."""

from __future__ import annotations

from bot.jobs.services import JobServices
from bot.jobs.spec import Job


async def delete_transcript(services: JobServices, job: Job) -> None:
    raise NotImplementedError(job.kind)  # being written (issue 13)
