"""Questions about a transcribed recording, answered from the stored transcript."""

from __future__ import annotations

from bot.errors import UserFacingError
from bot.gemini.config import Usage
from bot.gemini.prompts import question_prompt
from bot.jobs.services import JobServices
from bot.jobs.spec import Job, followup_answer_id
from bot.slack.render import render_answer
from bot.transcript.exports import to_text
from bot.transcript.model import Transcript


async def answer_question(services: JobServices, job: Job, attempt: int) -> None:
    """A question in a transcribed thread, answered from the stored transcript."""
    found = await services.store.thread_transcript(job.channel_id, job.thread_ts)
    if found is None:
        raise UserFacingError(
            "I don't have a transcript for this thread yet. Mention me in the thread of a "
            "message with audio or video to transcribe it first.",
            reason="no_transcript",
        )
    transcript = Transcript.model_validate_json(found.transcript_json)
    usage = Usage()
    with services.metrics.stage("gemini"):
        answer = await services.transcriber.ask_text(
            question_prompt(job.question or "", to_text(transcript)), usage
        )
    services.count_usage(usage, 0.0)
    message = render_answer(job.question or "", answer or "Gemini gave no answer.")
    # A deferred run starts again at attempt 1: its earlier run may have posted already.
    resumed = attempt > 1 or job.retry > 0 or job.transient_failures > 0
    await services.replies.post_once(job, message, resumed=resumed)


async def ask_after_transcript(services: JobServices, job: Job) -> None:
    """A transcription that was asked for with a question: queue the answer to it."""
    await services.queue.submit(
        job.model_copy(
            update={
                "id": followup_answer_id(job),
                "kind": "answer",
                "response_url": "",
            }
        )
    )
