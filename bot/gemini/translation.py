"""Translating a stored transcript: text-only requests in batches of segments, merged back.

Gemini gets the segments (speaker, timestamp, language, content) and answers with the
transcription's schema, translations in `translation`. Only the translations are taken
from its answer: speakers, timestamps and the verbatim content stay the stored ones, so a
translation can never rename, move or rewrite what was said.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from bot.errors import TranscriptionError
from bot.gemini.prompts import translation_prompt
from bot.transcript.model import Segment, Transcript

#: Segments per request: a long recording's translation stays well inside one answer's
#: output limit (a segment is ~30 words; 150 of them ~6,000 tokens).
BATCH_SEGMENTS = 150

#: Sends one prompt, answers the parsed Transcript (the Gemini client's structured request).
AskTranscript = Callable[[str], Awaitable[Transcript]]


def _request_json(t: Transcript, segments: list[Segment], *, first: bool) -> str:
    data: dict[str, object] = {
        "segments": [
            {
                "speaker": s.speaker,
                "timestamp": s.timestamp,
                "language": s.language,
                "content": s.content,
            }
            for s in segments
        ]
    }
    if first:
        data = {
            "summary": t.summary,
            "key_points": t.key_points,
            "action_items": t.action_items,
            **data,
        }
    return json.dumps(data, ensure_ascii=False, indent=1)


def _same_language(language: str, target: str) -> bool:
    return bool(language) and language.split("-")[0].lower() == target.split("-")[0].lower()


def merge_translation(
    original: Transcript, answers: list[Transcript], target: str, *, batch: int = BATCH_SEGMENTS
) -> Transcript:
    """The stored transcript with each segment's `translation` from the answers (in order,
    one answer per batch) and the summary, key points and action items translated."""
    segments: list[Segment] = []
    for k, answer in enumerate(answers):
        mine = original.segments[k * batch : (k + 1) * batch]
        if len(answer.segments) != len(mine):
            raise TranscriptionError(
                f"Gemini's translation had {len(answer.segments)} segments where the "
                f"transcript has {len(mine)}. Try again (the Retry button below).",
                reason="invalid_translation",
            )
        for seg, got in zip(mine, answer.segments, strict=True):
            # A model that put the translation into `content` still translated it.
            text = (got.translation or "").strip() or (
                got.content.strip() if got.content.strip() != seg.content.strip() else ""
            )
            if _same_language(seg.language, target) or not text:
                segments.append(seg.model_copy(update={"translation": None}))
            else:
                segments.append(seg.model_copy(update={"translation": text}))
    head = answers[0] if answers else original
    return original.model_copy(
        update={
            "segments": segments,
            "summary": head.summary.strip() or original.summary,
            "key_points": head.key_points or original.key_points,
            "action_items": head.action_items or original.action_items,
        }
    )


async def translate_in_batches(
    ask: AskTranscript, original: Transcript, target: str, *, batch: int = BATCH_SEGMENTS
) -> Transcript:
    """Translate `original` into `target`, one request per `batch` segments (concurrently;
    the client's request slots bound how many run at once)."""
    parts = [original.segments[i : i + batch] for i in range(0, len(original.segments), batch)] or [
        []
    ]
    total = len(parts)
    answers = await asyncio.gather(
        *(
            ask(
                translation_prompt(
                    _request_json(original, part, first=k == 0), target, part=(k + 1, total)
                )
            )
            for k, part in enumerate(parts)
        )
    )
    return merge_translation(original, list(answers), target, batch=batch)
