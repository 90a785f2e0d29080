"""Export formats; SRT and WebVTT are read back with small strict parsers."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass

import pytest

from bot.transcript.exports import (
    EXTENSIONS,
    FORMATS,
    to_json,
    to_markdown,
    to_srt,
    to_text,
    to_vtt,
)
from bot.transcript.model import Segment, Transcript, format_timestamp


@dataclass
class Cue:
    index: int | None
    start: float
    end: float
    lines: list[str]


_SRT_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2}):(\d{2}):(\d{2}),(\d{3})$")
_VTT_TIME = re.compile(r"^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    assert int(m) < 60 and int(s) < 60
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text: str) -> list[Cue]:
    """Blocks separated by one blank line: index, timing line, ≥ 1 text line."""
    assert text.endswith("\n") and not text.endswith("\n\n\n")
    cues = []
    for block in text.strip("\n").split("\n\n"):
        lines = block.split("\n")
        assert len(lines) >= 3, block
        assert lines[0].isdigit(), block
        m = _SRT_TIME.match(lines[1])
        assert m, lines[1]
        assert all(line.strip() for line in lines[2:]), block
        assert not any("-->" in line for line in lines[2:])
        g = m.groups()
        cues.append(Cue(int(lines[0]), _seconds(*g[:4]), _seconds(*g[4:]), lines[2:]))
    return cues


def parse_vtt(text: str) -> list[Cue]:
    """`WEBVTT` header, then cues: timing line and text lines; no raw `<` except `<v …>`."""
    assert text.startswith("WEBVTT\n") and text.endswith("\n")
    body = text.removeprefix("WEBVTT\n")
    assert body == "" or body.startswith("\n")
    cues = []
    for block in body.strip("\n").split("\n\n") if body.strip() else []:
        lines = block.split("\n")
        m = _VTT_TIME.match(lines[0])
        assert m, lines[0]
        assert len(lines) >= 2 and all(line.strip() for line in lines[1:]), block
        for line in lines[1:]:
            assert "-->" not in line
            stripped = re.sub(r"^<v [^<>&]*(?:&[a-z]+;[^<>&]*)*>", "", line)
            assert "<" not in stripped and ">" not in stripped, line
            assert not re.search(r"&(?!amp;|lt;|gt;)", stripped), line
        g = m.groups()
        cues.append(Cue(None, _seconds(*g[:4]), _seconds(*g[4:]), lines[1:]))
    return cues


def check_cue_timing(cues: list[Cue], n: int, duration: float | None) -> None:
    assert len(cues) == n
    for i, cue in enumerate(cues):
        if cue.index is not None:
            assert cue.index == i + 1
        assert cue.start < cue.end
        if i:
            assert cues[i - 1].end <= cue.start + 1e-9
            assert cues[i - 1].start <= cue.start
    if cues and duration is not None and duration > cues[-1].start:
        assert cues[-1].end == pytest.approx(duration, abs=0.001)


def vtt_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


SAMPLE = Transcript(
    summary="Two people plan a <launch> & a party.",
    key_points=["Launch on May 1"],
    action_items=["Bob books the room"],
    languages=["en", "es"],
    segments=[
        Segment(speaker="Alice", timestamp="00:00", content="Hello <!channel> & all."),
        Segment(
            speaker="Bob",
            timestamp="00:04",
            content="Hola a todos.",
            language="es",
            translation="Hello everyone.",
        ),
        Segment(speaker="Alice", timestamp="00:04", content="Line one\n\nline two"),
        Segment(speaker="Bob", timestamp="01:05", content="A --> B"),
    ],
)


@pytest.mark.parametrize(
    ("fmt", "duration", "expected_ends"),
    [
        ("srt", 70.0, [4.0, 34.5, 65.0, 70.0]),
        ("srt", None, [4.0, 34.5, 65.0, 70.0]),
        ("vtt", 90.0, [4.0, 34.5, 65.0, 90.0]),
        ("vtt", None, [4.0, 34.5, 65.0, 70.0]),
        # A duration before the last start (bad input) falls back to start + 5 s.
        ("vtt", 60.0, [4.0, 34.5, 65.0, 70.0]),
    ],
)
def test_subtitles_parse_and_time_cues(
    fmt: str, duration: float | None, expected_ends: list[float]
) -> None:
    out = FORMATS[fmt](SAMPLE, duration_s=duration)
    cues = parse_srt(out) if fmt == "srt" else parse_vtt(out)
    check_cue_timing(cues, len(SAMPLE.segments), duration)
    assert [c.end for c in cues] == pytest.approx(expected_ends)
    # Same-second segments share the gap to the next start instead of a 0 s cue.
    assert [c.start for c in cues] == pytest.approx([0.0, 4.0, 34.5, 65.0])


def test_srt_content_speaker_and_translation_lines() -> None:
    cues = parse_srt(to_srt(SAMPLE, duration_s=70))
    assert cues[0].lines == ["Alice: Hello <!channel> & all."]
    assert cues[1].lines == ["Bob: Hola a todos.", "Hello everyone."]
    assert cues[2].lines == ["Alice: Line one line two"]
    assert cues[3].lines == ["Bob: A -> B"]


def test_vtt_voice_spans_escaping_and_translation_lines() -> None:
    cues = parse_vtt(to_vtt(SAMPLE, duration_s=70))
    assert cues[0].lines == ["<v Alice>Hello &lt;!channel&gt; &amp; all."]
    assert cues[1].lines == ["<v Bob>Hola a todos.", "Hello everyone."]
    assert vtt_unescape(cues[3].lines[0]) == "<v Bob>A --> B"


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_text_and_markdown_show_everything(fmt: str) -> None:
    out = FORMATS[fmt](SAMPLE)
    for needle in [
        "Two people plan a <launch> & a party.",
        "Launch on May 1",
        "Bob books the room",
        "Hello <!channel> & all.",
        "Hola a todos.",
        "Hello everyone.",
        "Line one line two",
        "00:04",
        "01:05",
    ]:
        assert needle in out
    lines = out.splitlines()
    hola = next(i for i, line in enumerate(lines) if "Hola a todos." in line)
    # The translation is the line right under the original.
    assert "Hello everyone." in lines[hola + 1]


@pytest.mark.parametrize(
    ("fmt", "line"),
    [
        ("text", "[00:04] Bob: Hola a todos."),
        ("markdown", "**Bob** `00:04`: Hola a todos.  "),
    ],
)
def test_text_and_markdown_line_shape(fmt: str, line: str) -> None:
    assert line in FORMATS[fmt](SAMPLE).splitlines()


def test_json_round_trips() -> None:
    data = json.loads(to_json(SAMPLE, duration_s=70.25))
    assert data["duration_s"] == 70.25
    assert Transcript.model_validate(data) == SAMPLE
    assert "duration_s" not in json.loads(to_json(SAMPLE))


def test_formats_and_extensions_agree() -> None:
    assert set(FORMATS) == set(EXTENSIONS) == {"text", "markdown", "json", "srt", "vtt"}
    assert all(ext.startswith(".") for ext in EXTENSIONS.values())
    assert FORMATS["text"] is to_text and FORMATS["markdown"] is to_markdown


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_empty_transcript(fmt: str) -> None:
    empty = Transcript(summary="", segments=[])
    out = FORMATS[fmt](empty, duration_s=10)
    if fmt == "srt":
        assert out == ""
    elif fmt == "vtt":
        assert parse_vtt(out) == []


@pytest.mark.parametrize("seed", range(20))
def test_subtitles_random_transcripts(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 80)
    starts = sorted(rng.randint(0, 4000) for _ in range(n))
    words = ["a", "<b>", "&", "-->", "ok", "\n", "ñ", "😀", "x" * 30]
    segs = [
        Segment(
            speaker=rng.choice(["A", "B <x>", "Speaker 3"]),
            timestamp=format_timestamp(s),
            content=" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) + " z",
            translation=rng.choice([None, "tr <t>"]),
        )
        for s in starts
    ]
    t = Transcript(summary="s", segments=segs)
    duration = rng.choice([None, float(starts[-1] + rng.randint(1, 100))])
    srt = parse_srt(to_srt(t, duration_s=duration))
    vtt = parse_vtt(to_vtt(t, duration_s=duration))
    check_cue_timing(srt, n, duration)
    check_cue_timing(vtt, n, duration)
    for seg, s_cue, v_cue in zip(segs, srt, vtt, strict=True):
        assert len(s_cue.lines) == (2 if seg.translation else 1)
        assert len(v_cue.lines) == len(s_cue.lines)
        assert s_cue.lines[0].startswith(seg.speaker + ": ")
