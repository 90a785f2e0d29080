"""From prepared audio to one checked transcript: single request or chunks.

Gemini's answer is capped (65,536 output tokens ≈ 1.5–2 h of dense speech), so
long recordings are split at quiet points up front and the chunks transcribed
concurrently; a truncated answer for shorter audio falls back to the same path.
A short first pass lists and describes the voices, and every chunk gets that roster
(labels and descriptions) so the labels agree across chunks; voices the roster lacks
are matched up across chunks by one text-only pass over their descriptions
(`bot.transcript.voices`).

Gemini's answer time grows with its length, so a job's wall time is set by the
busiest request slot: chunks come in a multiple of the concurrency limit and are
of equal length, so every slot gets the same share and no round runs half empty.
"""

from __future__ import annotations

import asyncio
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import TruncatedAnswerError, UserFacingError
from bot.gemini.config import Usage
from bot.gemini.progress import OnProgress, Progress, ignore_progress
from bot.gemini.prompts import (
    TranscribeOptions,
    gross_error_instruction,
    reconcile_prompt,
    roster_prompt,
    summary_prompt,
    transcription_prompt,
)
from bot.jobs.transcriber import Transcriber
from bot.transcript.exports import to_text
from bot.transcript.merge import merge_chunks
from bot.transcript.model import Transcript
from bot.transcript.timestamps import check_timestamps
from bot.transcript.voices import (
    RosterVoice,
    assign_labels,
    needs_reconciling,
    new_voices,
    parse_groups,
    parse_roster,
    relabel,
)

if TYPE_CHECKING:
    from bot.media.types import PreparedAudio

logger = logging.getLogger(__name__)

#: Recordings longer than this are chunked before the first request.
CHUNK_ABOVE_S = 20 * 60.0
#: Longest chunk: 12 min is ~23k input tokens and a few thousand output tokens, far from
#: the output cap, and short enough for Gemini to keep its timestamps straight.
MAX_CHUNK_S = 12 * 60.0
#: A truncated answer for audio shorter than this is not split further; no chunk is
#: planned shorter than this either (each costs a request and a prompt).
MIN_SPLIT_S = 60.0
#: SCRIBE_MAX_CONCURRENCY's default: how many chunk requests run at once.
DEFAULT_CONCURRENCY = 4


def plan_chunk_count(duration_s: float, concurrency: int, *, at_least: int = 1) -> int:
    """How many equal chunks to cut: a multiple of `concurrency`, none over MAX_CHUNK_S.

    Answer time grows with the answer's length, so the job takes as long as the busiest
    request slot: 19 chunks on 4 slots take 5 rounds, 16 slightly longer ones take 4.
    Never more chunks than whole minutes (MIN_SPLIT_S), never fewer than `at_least`.
    """
    slots = max(1, concurrency)
    needed = max(at_least, math.ceil(duration_s / MAX_CHUNK_S))
    count = math.ceil(needed / slots) * slots
    return max(1, min(count, int(duration_s // MIN_SPLIT_S)))


async def transcribe_recording(
    gemini: Transcriber,
    audio: PreparedAudio,
    workdir: Path,
    options: TranscribeOptions,
    usage: Usage,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: OnProgress = ignore_progress,
) -> tuple[Transcript, int]:
    """Transcribe the whole recording; returns the transcript and the number of chunks.

    `concurrency` is the number of Gemini requests allowed at once (the transcriber's
    limit); chunk counts are planned around it. `on_progress` hears of each part done.
    """
    if audio.duration_s > CHUNK_ABOVE_S:
        count = plan_chunk_count(audio.duration_s, concurrency)
        return await _chunked(
            gemini, audio, workdir, options, usage, count=count, on_progress=on_progress
        )
    try:
        on_progress(Progress("transcribing", 0, 1))
        single = await transcribe_piece(gemini, audio, options, usage)
        on_progress(Progress("transcribing", 1, 1))
        # Voice descriptions are for labelling chunks, not for keeping or exporting.
        return single.model_copy(update={"voices": []}), 1
    except TruncatedAnswerError:
        if audio.duration_s < 2 * MIN_SPLIT_S:
            raise
        logger.info(
            "answer truncated for %.0f s of audio; falling back to chunks", audio.duration_s
        )
        count = plan_chunk_count(audio.duration_s, concurrency, at_least=2)
        return await _chunked(
            gemini, audio, workdir, options, usage, count=count, on_progress=on_progress
        )


async def transcribe_piece(
    gemini: Transcriber,
    audio: PreparedAudio,
    options: TranscribeOptions,
    usage: Usage,
    *,
    roster: list[RosterVoice] | None = None,
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
    gemini: Transcriber,
    audio: PreparedAudio,
    workdir: Path,
    options: TranscribeOptions,
    usage: Usage,
    *,
    count: int,
    on_progress: OnProgress,
) -> tuple[Transcript, int]:
    chunk_s = audio.duration_s / count
    from bot.media.pool import split_audio  # in the job's media worker processes

    chunks = await split_audio(audio, workdir, chunk_s=chunk_s)
    roster = parse_roster(
        await gemini.list_speakers(chunks[0], roster_prompt(options.hints), usage)
    )
    # Speaker names come from the audio: log how many, not who.
    logger.info("%d chunks of ~%.0f s, %d voices in the roster", len(chunks), chunk_s, len(roster))
    total = len(chunks)
    finished = 0
    on_progress(Progress("transcribing", 0, total))

    def one_more(task: asyncio.Task[Transcript]) -> None:
        nonlocal finished
        if not task.cancelled() and task.exception() is None:
            finished += 1
            on_progress(Progress("transcribing", finished, total))

    try:
        # Every chunk's task starts now, but each reads its audio only once it holds a
        # request slot (Transcriber), so at most `concurrency` payloads are in memory.
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(
                    transcribe_piece(
                        gemini, chunk, options, usage, roster=roster or None, part=(i + 1, total)
                    )
                )
                for i, chunk in enumerate(chunks)
            ]
            for task in tasks:
                task.add_done_callback(one_more)
    except BaseExceptionGroup as group_error:
        # One chunk failed and the others were cancelled: report that chunk's error as
        # if there had been one request, so the user gets its message, not a crash.
        raise _first_error(group_error) from None
    on_progress(Progress("combining", total, total))
    results = await _one_label_per_voice([t.result() for t in tasks], roster, gemini, usage)
    parts = [(c.offset_s, c.duration_s, r) for c, r in zip(chunks, results, strict=True)]
    merged = merge_chunks(parts, roster=[v.label for v in roster] or None)
    try:
        summary = await gemini.ask_text(summary_prompt(to_text(merged)), usage, kind="summary")
    except Exception:
        logger.exception("whole-recording summary failed; keeping the chunks' summaries")
        summary = ""
    if summary:
        merged = merged.model_copy(update={"summary": summary})
    return merged, total


async def _one_label_per_voice(
    results: list[Transcript], roster: list[RosterVoice], gemini: Transcriber, usage: Usage
) -> list[Transcript]:
    """Give each voice outside the roster one label across chunks (one text request).

    Skipped when newcomers speak in one chunk only; a failed or unreadable answer keeps
    the chunks' own labels, made unique so no two voices share one.
    """
    new = new_voices(results, roster)
    if not needs_reconciling(new):
        return results
    groups: list[tuple[list[int], str]] = []
    try:
        answer = await gemini.ask_text(reconcile_prompt(roster, new), usage, kind="roster")
        groups = parse_groups(answer, len(new), roster)
    except Exception:
        logger.exception("matching new voices across chunks failed; keeping chunk labels")
    mapping = assign_labels(new, groups, roster)
    logger.info(
        "%d new voices over %d chunks became %d", len(new), len(results), len(set(mapping.values()))
    )
    return [relabel(r, i, mapping) for i, r in enumerate(results, start=1)]


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to raise for a failed chunk: one the user can act on, if there is one."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending[:0] = list(error.exceptions)
        else:
            leaves.append(error)
    for error in leaves:
        if isinstance(error, UserFacingError):
            return error
    return leaves[0]
