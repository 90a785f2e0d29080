"""Merging the transcripts of a long recording's chunks into one, on one clock and roster."""

from __future__ import annotations

from collections.abc import Iterable

from bot.transcript.model import Segment, Transcript, format_timestamp
from bot.transcript.speakers import match_roster, normalise_label, unique
from bot.transcript.timestamps import parse_timestamp_loose


def _dedupe_text(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = " ".join(item.split()).casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(item.strip())
    return out


def merge_chunks(
    parts: list[tuple[float, float, Transcript]], *, roster: list[str] | None = None
) -> Transcript:
    """Join the transcripts of consecutive chunks `(offset_s, chunk_duration_s, transcript)`.

    Timestamps are shifted by the chunk's offset (and kept inside the chunk), labels
    are mapped onto `roster` when one is given, summaries are joined (the caller may
    replace them with a whole-recording summary), lists are de-duplicated.
    """
    ordered = sorted(parts, key=lambda p: p[0])
    roster_norm = [normalise_label(r) for r in roster] if roster else None
    segments: list[Segment] = []
    running = 0.0
    for offset, chunk_duration, chunk in ordered:
        last_local = 0.0
        for seg in chunk.segments:
            local = parse_timestamp_loose(seg.timestamp)
            local = last_local if local is None else local
            local = min(max(local, 0.0), max(chunk_duration, 0.0))
            last_local = local
            running = max(running, offset + local)
            label = normalise_label(seg.speaker)
            if roster_norm:
                label = match_roster(label, roster_norm)
            segments.append(
                seg.model_copy(update={"timestamp": format_timestamp(running), "speaker": label})
            )
    summaries = [c.summary.strip() for _, _, c in ordered if c.summary.strip()]
    return Transcript(
        summary="\n\n".join(summaries),
        key_points=_dedupe_text(p for _, _, c in ordered for p in c.key_points),
        action_items=_dedupe_text(a for _, _, c in ordered for a in c.action_items),
        languages=unique(
            code.strip() for _, _, c in ordered for code in c.languages if code.strip()
        ),
        speakers=unique(s.speaker for s in segments),
        segments=segments,
    )
