"""The transcript model Gemini fills in, and timestamp helpers.

The JSON schema of `Transcript` is what Gemini is asked to answer with; it is a
superset of the seed page's schema (summary; segments with speaker, timestamp,
content, language, emotion).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Emotion = Literal["happy", "sad", "angry", "neutral"]

_TIMESTAMP = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,]\d+)?\s*$")


class Segment(BaseModel):
    """One stretch of speech by one speaker."""

    model_config = ConfigDict(extra="ignore")

    speaker: str = Field(description="Speaker label, e.g. 'Speaker 1', or the person's name")
    timestamp: str = Field(description="Start of the segment, MM:SS or H:MM:SS")
    content: str = Field(description="Verbatim transcription in the spoken language")
    language: str = Field(default="", description="BCP-47 code of the spoken language, e.g. en")
    translation: str | None = Field(
        default=None,
        description="Translation into the target language when the segment is in another language",
    )
    emotion: Emotion = Field(default="neutral", description="Primary emotion of the speaker")


class Transcript(BaseModel):
    """What Gemini returns for one recording (or one chunk of it)."""

    model_config = ConfigDict(extra="ignore")

    summary: str = Field(description="Two to four sentences on what the recording is about")
    key_points: list[str] = Field(default_factory=list, description="Main points, if any")
    action_items: list[str] = Field(
        default_factory=list, description="Tasks someone agreed or was asked to do, if any"
    )
    languages: list[str] = Field(default_factory=list, description="BCP-47 codes spoken")
    speakers: list[str] = Field(default_factory=list, description="Speaker labels, in order")
    segments: list[Segment]


def parse_timestamp(text: str) -> float:
    """`MM:SS`, `H:MM:SS` (optionally with a fraction) → seconds. ValueError otherwise."""
    m = _TIMESTAMP.match(text)
    if not m:
        raise ValueError(f"not a timestamp: {text!r}")
    hours = int(m.group(1) or 0)
    minutes, seconds = int(m.group(2)), int(m.group(3))
    if seconds >= 60 or (m.group(1) is not None and minutes >= 60):
        raise ValueError(f"not a timestamp: {text!r}")
    return hours * 3600 + minutes * 60 + seconds


def format_timestamp(seconds: float) -> str:
    """Seconds → `M:SS` under an hour, `H:MM:SS` from an hour on."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def response_schema() -> dict[str, object]:
    """The JSON schema sent as the structured-output format."""
    return Transcript.model_json_schema()
