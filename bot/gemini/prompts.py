"""The instructions sent to Gemini (pure functions, no I/O).

The transcription prompt covers the seed page's six requirements: distinct
speakers, MM:SS timestamps, the language of each segment, an English (or chosen)
translation when the segment is in another language, the primary emotion, and a
summary first.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.transcript.model import format_timestamp
from bot.transcript.timestamps import TimestampReport


@dataclass(frozen=True)
class TranscribeOptions:
    """Per-job choices: a language hint and a translation target (BCP-47 codes)."""

    language: str | None = None
    translate_to: str | None = None


#: Only for structured (JSON) requests; plain-text requests carry their own instructions.
SYSTEM_INSTRUCTION = (
    "You are a careful transcriptionist. You transcribe speech verbatim, never invent "
    "content that is not in the audio, and answer only with the requested JSON."
)


def transcription_prompt(
    duration_s: float,
    options: TranscribeOptions,
    *,
    roster: list[str] | None = None,
    part: tuple[int, int] | None = None,
    correction: str | None = None,
) -> str:
    lines = [
        "Process the audio file and generate a detailed transcription.",
        "Requirements:",
        "1. Identify distinct speakers (e.g., Speaker 1, Speaker 2). If a speaker says their "
        "name or is clearly addressed by name, use that name as their label.",
        "2. Provide accurate timestamps for the start of each segment (Format: MM:SS, or "
        f"H:MM:SS past one hour). The audio is {format_timestamp(duration_s)} long; no "
        "timestamp may exceed that, and timestamps never decrease.",
        "3. Detect the primary language of each segment (BCP-47 code, e.g. en, de, pt-BR).",
        _translation_line(options.translate_to),
        "5. Identify the primary emotion: happy, sad, angry, or neutral.",
        "6. Provide a brief summary (two to four sentences) at the beginning, plus key points "
        "and action items when there are any.",
        "Start a new segment at every change of speaker and at least every 30 seconds.",
    ]
    if options.language:
        lines.append(f"The recording is expected to be mostly in '{options.language}'.")
    if roster:
        lines.append(
            "Speakers: " + ", ".join(roster) + "\n"
            "Use exactly these speaker labels for these voices; label any other voice "
            f"'Speaker {len(roster) + 1}', 'Speaker {len(roster) + 2}', and so on."
        )
    if part is not None:
        index, total = part
        lines.append(
            f"This audio is part {index} of {total} of a longer recording; timestamps start "
            "at 00:00 for this part. Summarise only this part."
        )
    if correction:
        lines.append(correction)
    return "\n".join(lines)


def _translation_line(target: str | None) -> str:
    if target is None:
        # Translation is off for this channel or request: translating would cost output
        # tokens nobody asked for.
        return "4. Do not translate: leave `translation` null in every segment."
    return (
        f"4. If a segment is not in '{target}', put its translation into '{target}' in "
        "`translation`; otherwise leave `translation` null."
    )


def roster_prompt() -> str:
    """The first pass over a chunked recording; asks for SpeakerRoster's one field."""
    return (
        "List the distinct speakers you hear in this audio, in order of first appearance. "
        "Label each 'Speaker 1', 'Speaker 2', … unless a speaker says their name or is "
        "clearly addressed by name, in which case use the name. Answer with the labels "
        "in `speakers`, nothing else."
    )


def summary_prompt(transcript_text: str) -> str:
    return (
        "Below is the transcript of a long recording. Write a brief summary of the whole "
        "recording in two to four sentences, in plain text, nothing else.\n\n"
        "<transcript>\n" + transcript_text + "\n</transcript>"
    )


def question_prompt(question: str, transcript_text: str) -> str:
    return (
        "Answer the question about the recording below. Base the answer only on the "
        "recording; cite the timestamps (MM:SS) you rely on; say so plainly if the recording "
        "does not answer it. Answer in the language of the question, in at most 150 words, "
        "plain text.\n\n"
        "<transcript>\n" + transcript_text + "\n</transcript>\n\n"
        "<question>\n" + question + "\n</question>"
    )


def gross_error_instruction(report: TimestampReport, duration_s: float) -> str:
    """Corrective text appended to the prompt when the first answer's timestamps were unusable."""
    last_ok = format_timestamp(max(0.0, duration_s - 1))
    shown = report.problems[:6]
    more = len(report.problems) - len(shown)
    listing = "\n".join(f"- {p}" for p in shown)
    if more > 0:
        listing += f"\n- … and {more} more"
    return (
        "Your previous answer had timestamps that do not match the audio:\n"
        f"{listing}\n"
        f"The recording is {format_timestamp(duration_s)} long ({duration_s:.0f} seconds). "
        "Listen again. Every segment's `timestamp` is the moment that segment starts, "
        "measured from the start of this recording, written as MM:SS (H:MM:SS from one hour "
        f"on). Timestamps never decrease from one segment to the next and are never later "
        f"than {last_ok}. Answer with the same JSON structure."
    )
