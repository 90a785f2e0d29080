"""Jobs of the transcript's buttons: export a file, translate, rename speakers in place."""

from __future__ import annotations

from bot.jobs.services import JobServices
from bot.jobs.spec import Job


async def run_transcript_action(services: JobServices, job: Job, attempt: int) -> None:
    raise NotImplementedError(job.kind)  # being written (issue 13)
