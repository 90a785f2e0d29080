"""The Rename speakers modal's job: new names stored, and every message of the transcript
(and of translations already posted) edited in place to show them.

A person picked in the modal is shown by their display name as plain text (never a
mention); typed names are escaped like everything else a reply shows.
"""

from __future__ import annotations

from bot.jobs.services import JobServices
from bot.jobs.spec import Job
from bot.jobs.thread_reply import GONE, ThreadReply, translate_job_id, translation_cache_key
from bot.jobs.translate import translation_delivery
from bot.slack.controls_render import TRANSLATE_LANGUAGES
from bot.slack.rename_modal import picked_user
from bot.slack.render import plan_delivery
from bot.transcript.model import Transcript


async def rename_speakers(services: JobServices, job: Job, reply: ThreadReply) -> None:
    labels = set(reply.labels)
    names: dict[str, str] = {}
    for label, given in job.names.items():
        if label not in labels:
            continue  # the thread has another transcript since the modal was opened
        user_id = picked_user(given)
        if user_id is None:
            names[label] = given
        elif (shown := await services.replies.display_name(user_id)) is not None:
            names[label] = shown
    merged = await services.store.rename_speakers(job.channel_id, job.thread_ts, names)
    if merged is None:
        await services.replies.ephemeral(job, GONE)
        return
    reply = reply.renamed(merged)
    await services.replies.replace(reply.job, plan_delivery(reply.named(), reply.info))
    await _rename_translations(services, reply)


async def _rename_translations(services: JobServices, reply: ThreadReply) -> None:
    """Translations of this transcript posted in the thread show the new names too."""
    for target in TRANSLATE_LANGUAGES:
        record = await services.store.get_job(translate_job_id(reply.thread, target))
        if record is None or record.state != "done":
            continue
        cached = await services.store.get_cached_transcript(
            translation_cache_key(reply.thread, target)
        )
        if cached is None:
            continue  # purged: the posted translation keeps its names
        translated = Transcript.model_validate_json(cached[0])
        await services.replies.replace(record.job, translation_delivery(reply, translated, target))
