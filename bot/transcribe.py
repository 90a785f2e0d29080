"""From prepared audio to one checked transcript: single request or chunks.

Gemini's answer is capped (65,536 output tokens ≈ 1.5–2 h of dense speech), so
long recordings are split at quiet points up front and the chunks transcribed
concurrently; a truncated answer for shorter audio falls back to the same path.
A short first pass lists the voices, and every chunk gets that roster so the
labels agree across chunks.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.exports import to_text
from bot.gemini import GeminiTranscriber, TruncatedAnswerError, Usage
from bot.media import PreparedAudio, split_audio
from bot.prompts import TranscribeOptions, roster_prompt, summary_prompt, transcription_prompt
from bot.transcript import Transcript
from bot.transcript_checks import (
    check_timestamps,
    gross_error_instruction,
    merge_chunks,
)

logger = logging.getLogger(__name__)

#: Recordings longer than this are chunked before the first request.
CHUNK_ABOVE_S = 20 * 60.0
#: Target chunk length: ~10 min is ~19k input tokens and a few thousand output tokens,
#: far from the output cap, and short enough that chunks finish close together.
CHUNK_S = 10 * 60.0
#: A truncated answer for audio shorter than this is not split further.
MIN_SPLIT_S = 60.0


async def transcribe_recording(
    gemini: GeminiTranscriber,
    audio: PreparedAudio,
    workdir: Path,
    options: TranscribeOptions,
    usage: Usage,
) -> tuple[Transcript, int]:
    """Transcribe the whole recording; returns the transcript and the number of chunks."""
    if audio.duration_s > CHUNK_ABOVE_S:
        return await _chunked(gemini, audio, workdir, options, usage, chunk_s=CHUNK_S)
    try:
        return await transcribe_piece(gemini, audio, options, usage), 1
    except TruncatedAnswerError:
        if audio.duration_s < 2 * MIN_SPLIT_S:
            raise
        logger.info(
            "answer truncated for %.0f s of audio; falling back to chunks", audio.duration_s
        )
        chunk_s = max(MIN_SPLIT_S, min(CHUNK_S, audio.duration_s / 2))
        return await _chunked(gemini, audio, workdir, options, usage, chunk_s=chunk_s)


async def transcribe_piece(
    gemini: GeminiTranscriber,
    audio: PreparedAudio,
    options: TranscribeOptions,
    usage: Usage,
    *,
    roster: list[str] | None = None,
    part: tuple[int, int] | None = None,
) -> Transcript:
    """One request, timestamps checked; one corrective retry when they are grossly wrong."""
    prompt = transcription_prompt(audio.duration_s, options, roster=roster, part=part)
    transcript = await gemini.transcribe(audio, prompt, usage)
    checked, report = check_timestamps(transcript, audio.duration_s)
    if not report.gross:
        return checked
    logger.info("timestamps grossly wrong (%s); retrying once", "; ".join(report.problems[:3]))
    correction = gross_error_instruction(report, audio.duration_s)
    prompt = transcription_prompt(
        audio.duration_s, options, roster=roster, part=part, correction=correction
    )
    retried = await gemini.transcribe(audio, prompt, usage)
    rechecked, report2 = check_timestamps(retried, audio.duration_s)
    # Either way no timestamp is past the end: check_timestamps clamps.
    return rechecked if not report2.gross or report2.repaired <= report.repaired else checked


async def _chunked(
    gemini: GeminiTranscriber,
    audio: PreparedAudio,
    workdir: Path,
    options: TranscribeOptions,
    usage: Usage,
    *,
    chunk_s: float,
) -> tuple[Transcript, int]:
    chunks = await asyncio.to_thread(split_audio, audio, workdir, chunk_s=chunk_s)
    roster = await gemini.list_speakers(chunks[0], roster_prompt(), usage)
    logger.info("%d chunks, roster %s", len(chunks), roster)
    total = len(chunks)
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(
                transcribe_piece(
                    gemini, chunk, options, usage, roster=roster or None, part=(i + 1, total)
                )
            )
            for i, chunk in enumerate(chunks)
        ]
    parts = [(c.offset_s, c.duration_s, t.result()) for c, t in zip(chunks, tasks, strict=True)]
    merged = merge_chunks(parts, roster=roster or None)
    try:
        summary = await gemini.ask_text(summary_prompt(to_text(merged)), usage)
    except Exception:
        logger.exception("whole-recording summary failed; keeping the chunks' summaries")
        summary = ""
    if summary:
        merged = merged.model_copy(update={"summary": summary})
    return merged, total
