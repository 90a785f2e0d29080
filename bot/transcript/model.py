"""The transcript model Gemini fills in, and timestamp helpers.

The JSON schema of `Transcript` is what Gemini is asked to answer with; it is a
superset of the seed page's schema (summary; segments with speaker, timestamp,
content, language, emotion).

Every field is *required* in the schema sent (a constrained model may leave out any
field the schema does not require), yet has a default when parsing, so transcripts
stored or scripted before a field existed still load.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Emotion = Literal["happy", "sad", "angry", "neutral"]

#: Models Gemini fills in: unknown keys are dropped, and in the schema sent (the
#: serialization-mode JSON schema) fields with defaults are still required.
ANSWER_MODEL_CONFIG = ConfigDict(extra="ignore", json_schema_serialization_defaults_required=True)

_TIMESTAMP = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,]\d+)?\s*$")


class Segment(BaseModel):
    """One stretch of speech by one speaker."""

    model_config = ANSWER_MODEL_CONFIG

    speaker: str = Field(description="Speaker label, e.g. 'Speaker 1', or the person's name")
    timestamp: str = Field(description="Start of the segment, MM:SS or H:MM:SS")
    content: str = Field(description="Verbatim transcription in the spoken language")
    language: str = Field(default="", description="BCP-47 code of the spoken language, e.g. en")
    translation: str | None = Field(
        default=None,
        description="Translation into the target language when the segment is in another language",
    )
    emotion: Emotion = Field(default="neutral", description="Primary emotion of the speaker")


class Voice(BaseModel):
    """One voice of a recording, described so another request can recognise it."""

    model_config = ANSWER_MODEL_CONFIG

    label: str = Field(description="The speaker label this voice has in `segments`")
    description: str = Field(
        default="",
        description="How the voice sounds, the role it plays, names it uses or is called by",
    )


class Transcript(BaseModel):
    """What Gemini returns for one recording (or one chunk of it)."""

    model_config = ANSWER_MODEL_CONFIG

    summary: str = Field(description="Two to four sentences on what the recording is about")
    key_points: list[str] = Field(default_factory=list, description="Main points, if any")
    action_items: list[str] = Field(
        default_factory=list, description="Tasks someone agreed or was asked to do, if any"
    )
    languages: list[str] = Field(default_factory=list, description="BCP-47 codes spoken")
    speakers: list[str] = Field(default_factory=list, description="Speaker labels, in order")
    voices: list[Voice] = Field(
        default_factory=list, description="Every speaker label used, with its voice described"
    )
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


def response_schema(model: type[BaseModel] = Transcript) -> dict[str, Any]:
    """The JSON schema sent as the structured-output format for `model`.

    Serialization mode, so fields with defaults are required (see ANSWER_MODEL_CONFIG);
    `default` keywords are dropped: Gemini's structured output does not document them,
    and a required field's default means nothing to the model.
    """
    schema: dict[str, Any] = _without_defaults(model.model_json_schema(mode="serialization"))
    return schema


def _without_defaults(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_defaults(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "default":
            continue
        if key in ("properties", "$defs"):  # names → schemas: a field may be called "default"
            out[key] = {name: _without_defaults(sub) for name, sub in value.items()}
        else:
            out[key] = _without_defaults(value)
    return out
