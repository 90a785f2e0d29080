"""Plain data and small pure helpers shared by `bot.media.prepare` and `bot.media.split`.

No numpy or PyAV here: the Gemini client and the serving process import this module,
and media work runs in worker processes (`bot.media.pool`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

#: What the Gemini Developer API documents for audio input (ai.google.dev/gemini-api/docs/audio).
SUPPORTED_MIME_TYPES: frozenset[str] = frozenset(
    {"audio/wav", "audio/mp3", "audio/aiff", "audio/aac", "audio/ogg", "audio/flac"}
)

#: Gemini bills audio at 32 tokens per second (1 min = 1,920 tokens).
AUDIO_TOKENS_PER_S = 32


@dataclass(frozen=True)
class MediaInfo:
    """What `probe` found in a file, judged by its bytes, not its name."""

    duration_s: float
    has_audio: bool
    has_video: bool
    audio_codec: str | None
    container: str
    sample_rate: int | None
    channels: int | None
    #: Audio bit rate in bit/s when the file says or it can be inferred (audio-only files).
    bit_rate: int | None = None


@dataclass(frozen=True)
class PreparedAudio:
    """An audio file in a format Gemini accepts; `offset_s` is where it starts in the original."""

    path: Path
    mime_type: str
    duration_s: float
    size_bytes: int
    offset_s: float = 0.0


def estimate_audio_tokens(duration_s: float) -> int:
    """Gemini input tokens for `duration_s` seconds of audio (32 per second, rounded up)."""
    return math.ceil(max(0.0, duration_s) * AUDIO_TOKENS_PER_S)


def human_duration(seconds: float, *, with_seconds: bool = False) -> str:
    """'4 h', '5 h 12 min', '1 min 30 s', '3 s'; seconds are left out from one hour up."""
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = []
    if h:
        parts.append(f"{h} h")
    if m:
        parts.append(f"{m} min")
    if s and (not h or with_seconds):
        parts.append(f"{s} s")
    return " ".join(parts) or "0 s"


def too_long_message(duration_s: float, limit_s: float, *, at_least: bool = False) -> str:
    """The TooLongError text: both lengths, and what to do."""
    length, limit = human_duration(duration_s), human_duration(limit_s)
    if length == limit:  # e.g. 4 h 0 min 20 s against 4 h
        length = human_duration(duration_s, with_seconds=True)
    prefix = "at least " if at_least else ""
    return (
        f"This recording is {prefix}{length} long; the limit here is {limit}. "
        "Trim it or split it and share the parts."
    )


def dbfs(rms: float) -> float:
    """RMS level in dB relative to full scale (-inf for digital silence)."""
    return 20 * math.log10(rms) if rms > 0 else -math.inf
