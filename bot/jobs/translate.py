"""The Translate menu's job: the thread's transcript translated by Gemini, posted in the
thread like a transcript (its header names the language).

Gemini translates the stored transcript (text only, the transcription's schema); the
translation is cached like a transcript asked for with that translation (the same key),
so each language costs one translation per file.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.gemini.config import Usage
from bot.jobs.services import JobServices
from bot.jobs.spec import Job
from bot.jobs.thread_reply import ThreadReply, translation_cache_key
from bot.slack.messages import Delivery
from bot.slack.render import plan_delivery
from bot.slack.text import language_name
from bot.transcript.model import Transcript

logger = logging.getLogger(__name__)


async def translate_transcript(
    services: JobServices, job: Job, reply: ThreadReply, *, resumed: bool
) -> None:
    translated = await cached_translation(services, reply, job.option)
    delivery = translation_delivery(reply, translated, job.option)
    first_ts = await services.replies.deliver(job, delivery, resumed=resumed)
    if first_ts:
        await services.store.record_reply(job.id, first_ts)


async def cached_translation(services: JobServices, reply: ThreadReply, target: str) -> Transcript:
    """The stored transcript in `target`: from the cache, else from Gemini (then cached)."""
    key = translation_cache_key(reply.thread, target)
    cached = await services.store.get_cached_transcript(key)
    if cached is not None:
        logger.info("translation found in cache")
        return Transcript.model_validate_json(cached[0])
    usage = Usage()
    translated = await services.transcriber.translate(reply.stored, target, usage)
    services.count_usage(usage, 0.0)  # no audio was listened to
    await services.store.cache_transcript(key, translated.model_dump_json(), reply.info.duration_s)
    return translated


def translation_delivery(reply: ThreadReply, translated: Transcript, target: str) -> Delivery:
    """A translation as a thread reply: the transcript's rendering and names, no controls
    (they act on the transcript itself)."""
    info = dataclasses.replace(
        reply.info, translated_to=target, title=f"{language_name(target)} translation"
    )
    return plan_delivery(reply.named(translated), info, controls=False)
