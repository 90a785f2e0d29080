"""Transcript export formats: plain text, Markdown, JSON, SubRip (SRT) and WebVTT.

Used for the CLI's `--format`, the files attached to long Slack replies, and the
transcript's Download menu (`DOWNLOADS`, by file extension).
Timestamps are expected to be checked already (`check_timestamps`).
"""

from __future__ import annotations

import json
from typing import Protocol

from bot.transcript.model import Segment, Transcript
from bot.transcript.timestamps import parse_timestamp_loose

# A last cue needs some length when the recording's duration is unknown.
LAST_CUE_DEFAULT_S = 5.0


def _one_line(text: str) -> str:
    """Subtitle and list lines cannot hold blank lines (they end a cue)."""
    return " ".join(text.split())


def _speaker(seg: Segment) -> str:
    return _one_line(seg.speaker) or "Unknown"


def _translation(seg: Segment) -> str:
    return _one_line(seg.translation or "")


def _bullets(items: list[str], bullet: str) -> list[str]:
    return [f"{bullet}{_one_line(item)}" for item in items if item.strip()]


def to_text(t: Transcript, *, duration_s: float | None = None) -> str:
    """Plain text: summary, key points, action items, then `[MM:SS] Speaker: content`."""
    lines: list[str] = []
    if t.summary.strip():
        lines += ["Summary", t.summary.strip(), ""]
    if t.key_points:
        lines += ["Key points", *_bullets(t.key_points, "- "), ""]
    if t.action_items:
        lines += ["Action items", *_bullets(t.action_items, "- "), ""]
    lines.append("Transcript")
    for seg in t.segments:
        lines.append(f"[{seg.timestamp}] {_speaker(seg)}: {_one_line(seg.content)}")
        if _translation(seg):
            lines.append(f"    ({_translation(seg)})")
    return "\n".join(lines) + "\n"


def to_markdown(t: Transcript, *, duration_s: float | None = None) -> str:
    """Markdown with a section per part and one paragraph per segment."""
    out: list[str] = []
    if t.summary.strip():
        out += ["## Summary", "", t.summary.strip(), ""]
    if t.key_points:
        out += ["## Key points", "", *_bullets(t.key_points, "- "), ""]
    if t.action_items:
        out += ["## Action items", "", *_bullets(t.action_items, "- [ ] "), ""]
    out += ["## Transcript", ""]
    for seg in t.segments:
        line = f"**{_speaker(seg)}** `{seg.timestamp}`: {_one_line(seg.content)}"
        if _translation(seg):
            # Two trailing spaces: a Markdown line break inside the paragraph.
            line += f"  \n*{_translation(seg)}*"
        out += [line, ""]
    return "\n".join(out)


def to_json(t: Transcript, *, duration_s: float | None = None) -> str:
    """The transcript model as indented JSON (plus the duration when known)."""
    data: dict[str, object] = t.model_dump(mode="json")
    if duration_s is not None:
        data = {"duration_s": round(duration_s, 3), **data}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def cue_times(t: Transcript, duration_s: float | None) -> list[tuple[float, float]]:
    """(start, end) per segment: a cue lasts until the next one starts.

    Segments that share a start second are spread evenly over the time until the
    next distinct start, so no cue has zero length and cues never overlap.
    """
    starts: list[float] = []
    running = 0.0
    for seg in t.segments:
        value = parse_timestamp_loose(seg.timestamp)
        running = max(running, value if value is not None else running)
        starts.append(running)
    n = len(starts)
    if duration_s is not None and n and duration_s > starts[-1]:
        final_end = duration_s
    else:
        final_end = (starts[-1] if n else 0.0) + LAST_CUE_DEFAULT_S
    times: list[tuple[float, float]] = []
    i = 0
    while i < n:
        j = i
        while j + 1 < n and starts[j + 1] == starts[i]:
            j += 1
        group_end = starts[j + 1] if j + 1 < n else final_end
        step = (group_end - starts[i]) / (j - i + 1)
        for k in range(j - i + 1):
            times.append((starts[i] + k * step, starts[i] + (k + 1) * step))
        i = j + 1
    return times


def _clock(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def to_srt(t: Transcript, *, duration_s: float | None = None) -> str:
    """SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, `Speaker: text`."""
    blocks: list[str] = []
    for index, (seg, (start, end)) in enumerate(
        zip(t.segments, cue_times(t, duration_s), strict=True), start=1
    ):
        lines = [str(index), f"{_clock(start, ',')} --> {_clock(end, ',')}"]
        # "-->" inside cue text confuses SRT readers that scan for timing lines.
        lines.append(f"{_speaker(seg)}: {_one_line(seg.content)}".replace("-->", "->"))
        if _translation(seg):
            lines.append(_translation(seg).replace("-->", "->"))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _vtt_escape(text: str) -> str:
    # WebVTT cue text is markup: & and < must be escaped, and "-->" may not appear.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(t: Transcript, *, duration_s: float | None = None) -> str:
    """WebVTT with a voice span per cue: `<v Speaker>text`."""
    out = ["WEBVTT", ""]
    for seg, (start, end) in zip(t.segments, cue_times(t, duration_s), strict=True):
        out.append(f"{_clock(start, '.')} --> {_clock(end, '.')}")
        out.append(f"<v {_vtt_escape(_speaker(seg))}>{_vtt_escape(_one_line(seg.content))}")
        if _translation(seg):
            out.append(_vtt_escape(_translation(seg)))
        out.append("")
    return "\n".join(out)


class Exporter(Protocol):
    def __call__(self, t: Transcript, *, duration_s: float | None = None) -> str: ...


FORMATS: dict[str, Exporter] = {
    "text": to_text,
    "markdown": to_markdown,
    "json": to_json,
    "srt": to_srt,
    "vtt": to_vtt,
}

# File name extensions, with the dot: `f"transcript{EXTENSIONS[fmt]}"`.
EXTENSIONS: dict[str, str] = {
    "text": ".txt",
    "markdown": ".md",
    "json": ".json",
    "srt": ".srt",
    "vtt": ".vtt",
}

#: The Download menu's option values (the operations contract) → the format they export.
DOWNLOADS: dict[str, str] = {
    "txt": "text",
    "srt": "srt",
    "vtt": "vtt",
    "json": "json",
    "md": "markdown",
}

__all__ = [
    "DOWNLOADS",
    "EXTENSIONS",
    "FORMATS",
    "cue_times",
    "to_json",
    "to_markdown",
    "to_srt",
    "to_vtt",
]
