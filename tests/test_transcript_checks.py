"""Timestamp repair, speaker naming and chunk merging: tables of Gemini-shaped inputs."""

from __future__ import annotations

import random

import pytest

from bot.gemini.prompts import gross_error_instruction
from bot.transcript.merge import merge_chunks
from bot.transcript.model import Segment, Transcript, parse_timestamp
from bot.transcript.speakers import apply_speaker_names
from bot.transcript.timestamps import TimestampReport, check_timestamps, parse_timestamp_loose


def make(stamps: list[str], speakers: list[str] | None = None, **kw: object) -> Transcript:
    speakers = speakers or ["Speaker 1"] * len(stamps)
    segs = [
        Segment(speaker=sp, timestamp=ts, content=f"line {i}")
        for i, (ts, sp) in enumerate(zip(stamps, speakers, strict=True))
    ]
    return Transcript(summary=str(kw.get("summary", "s")), segments=segs)


def stamps(t: Transcript) -> list[str]:
    return [s.timestamp for s in t.segments]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:12", 12),
        ("1:02", 62),
        ("75:30", 4530),
        ("1:02:03", 3723),
        ("00:01:02", 62),
        ("1:02.5", 62.5),
        ("01:02,250", 62.25),
        ("[00:12]", 12),
        (" (3:04) ", 184),
        ("abc", None),
        ("", None),
        ("12", None),
        ("1:60", None),
        ("1:61:00", None),
        ("-0:05", None),
    ],
)
def test_parse_timestamp_loose(text: str, seconds: float | None) -> None:
    assert parse_timestamp_loose(text) == seconds


@pytest.mark.parametrize(
    ("given", "duration", "expected", "repaired", "gross"),
    [
        # Clean input is only normalised.
        (["0:00", "0:05", "00:10"], 60, ["00:00", "00:05", "00:10"], 0, False),
        (["[00:01]", "00:00:07", "0:09.7"], 60, ["00:01", "00:07", "00:09"], 0, False),
        (["0:00", "59:59", "1:00:00"], 3700, ["00:00", "59:59", "1:00:00"], 0, False),
        # Equal stamps are non-decreasing: fine.
        (["0:05", "0:05", "0:06"], 60, ["00:05", "00:05", "00:06"], 0, False),
        # A lone out-of-order stamp is clamped between its neighbours.
        (
            ["0:00", "0:10", "0:03", "0:20", "0:30", "0:40"],
            60,
            ["00:00", "00:10", "00:10", "00:20", "00:30", "00:40"],
            1,
            False,
        ),
        (
            ["0:00", "0:10", "9:59", "0:20", "0:30", "0:40"],
            60,
            ["00:00", "00:10", "00:20", "00:20", "00:30", "00:40"],
            1,
            False,
        ),
        # Unparsable stamps are interpolated between the neighbours that parsed.
        (
            ["0:00", "0:10", "??", "0:30", "0:40", "0:50"],
            60,
            ["00:00", "00:10", "00:20", "00:30", "00:40", "00:50"],
            1,
            False,
        ),
        (
            ["oops", "0:10", "0:20", "0:30", "0:40"],
            60,
            ["00:05", "00:10", "00:20", "00:30", "00:40"],
            1,
            False,
        ),
        # Past the end by a little: clamped to the last second inside.
        (["0:00", "0:30", "1:01"], 60, ["00:00", "00:30", "00:59"], 1, False),
        (["0:00", "0:30", "1:00"], 60.5, ["00:00", "00:30", "01:00"], 0, False),
        # Gross: the clock runs far past the end.
        (["0:00", "2:00", "4:00"], 60, ["00:00", "00:59", "00:59"], 2, True),
        # Gross: many unparsable or out of order.
        (
            ["0:00", "x", "y", "0:30", "0:40"],
            60,
            ["00:00", "00:10", "00:20", "00:30", "00:40"],
            2,
            True,
        ),
        (
            ["0:50", "0:40", "0:30", "0:20", "0:10"],
            60,
            ["00:50"] * 5,
            4,
            True,
        ),
        # Gross: everything at 00:00 in a long recording.
        (["0:00"] * 5, 300, ["00:00"] * 5, 0, True),
        ([], 60, [], 0, False),
    ],
)
def test_check_timestamps(
    given: list[str], duration: float, expected: list[str], repaired: int, gross: bool
) -> None:
    fixed, report = check_timestamps(make(given), duration)
    assert stamps(fixed) == expected
    assert report.repaired == repaired
    assert report.gross is gross
    assert bool(report.problems) is (repaired > 0 or gross)
    # Contents and speakers are untouched.
    assert [s.content for s in fixed.segments] == [f"line {i}" for i in range(len(given))]


@pytest.mark.parametrize("seed", range(30))
def test_check_timestamps_invariants_on_random_input(seed: int) -> None:
    rng = random.Random(seed)
    duration = rng.uniform(1, 8000)
    pool = ["??", "", "[0:05]", "1:02.5", "99:99", "00:00:10"]
    given = [
        rng.choice(pool) if rng.random() < 0.2 else f"{int(v // 60)}:{int(v % 60):02d}"
        for v in sorted(rng.uniform(0, duration * 1.3) for _ in range(rng.randint(0, 60)))
    ]
    rng.shuffle(given) if rng.random() < 0.3 else None
    fixed, _ = check_timestamps(make(given), duration)
    values = [parse_timestamp(s) for s in stamps(fixed)]
    assert values == sorted(values)
    assert all(0 <= v < duration for v in values)
    assert len(values) == len(given)


def test_gross_error_instruction_names_the_problems_and_the_limits() -> None:
    report = TimestampReport(repaired=3, gross=True, problems=[f"problem {i}" for i in range(9)])
    text = gross_error_instruction(report, 754)
    assert "problem 0" in text and "problem 5" in text and "problem 6" not in text
    assert "3 more" in text
    assert "12:34" in text and "12:33" in text
    assert "MM:SS" in text


@pytest.mark.parametrize(
    ("speakers", "uploader", "labels", "roster"),
    [
        # Voice note: one voice, the uploader is known.
        (["Speaker 1", "Speaker 1"], "Dana", ["Dana", "Dana"], ["Dana"]),
        (["speaker_1"], "  Dana  Lee ", ["Dana Lee"], ["Dana Lee"]),
        # One voice but no uploader name: label normalised, kept.
        (["SPEAKER_01", "Speaker1"], None, ["Speaker 1", "Speaker 1"], ["Speaker 1"]),
        # Several voices: Gemini's names kept, Speaker N numbers kept stable.
        (
            ["Alice", "Speaker 2", "Alice", "speaker 3"],
            "Dana",
            ["Alice", "Speaker 2", "Alice", "Speaker 3"],
            ["Alice", "Speaker 2", "Speaker 3"],
        ),
        (
            ["Speaker 2", "Speaker 1", "Speaker 2"],
            "Dana",
            ["Speaker 2", "Speaker 1", "Speaker 2"],
            ["Speaker 2", "Speaker 1"],
        ),
        # An empty label becomes "Unknown", not a blank name.
        (["", "Bob"], None, ["Unknown", "Bob"], ["Unknown", "Bob"]),
        ([], "Dana", [], []),
    ],
)
def test_apply_speaker_names(
    speakers: list[str], uploader: str | None, labels: list[str], roster: list[str]
) -> None:
    t = make(["0:00"] * len(speakers), speakers)
    named = apply_speaker_names(t, uploader_name=uploader)
    assert [s.speaker for s in named.segments] == labels
    assert named.speakers == roster


def chunk(summary: str, rows: list[tuple[str, str]], **kw: list[str]) -> Transcript:
    return Transcript(
        summary=summary,
        segments=[Segment(speaker=sp, timestamp=ts, content=f"{summary}:{ts}") for ts, sp in rows],
        key_points=kw.get("key_points", []),
        action_items=kw.get("action_items", []),
        languages=kw.get("languages", []),
    )


def test_merge_chunks_offsets_concatenates_and_dedupes() -> None:
    first = chunk(
        "Part one.",
        [("0:00", "Alice"), ("9:50", "Speaker 2")],
        key_points=["Budget is fine"],
        action_items=["Alice sends notes"],
        languages=["en"],
    )
    second = chunk(
        "Part two.",
        [("0:05", "alice"), ("1:00", "Speaker 2"), ("10:30", "Carol")],
        key_points=["budget  is fine", "Launch in May"],
        action_items=["Alice sends notes"],
        languages=["en", "fr"],
    )
    # Given out of order: merged by offset.
    merged = merge_chunks([(600.0, 600.0, second), (0.0, 600.0, first)], roster=["Alice", "Bob"])
    assert [s.timestamp for s in merged.segments] == ["00:00", "09:50", "10:05", "11:00", "20:00"]
    assert [s.content for s in merged.segments] == [
        "Part one.:0:00",
        "Part one.:9:50",
        "Part two.:0:05",
        "Part two.:1:00",
        "Part two.:10:30",
    ]
    # "alice" → roster "Alice"; "Speaker 2" → roster's 2nd entry; a new voice is kept.
    assert [s.speaker for s in merged.segments] == ["Alice", "Bob", "Alice", "Bob", "Carol"]
    assert merged.speakers == ["Alice", "Bob", "Carol"]
    assert merged.summary == "Part one.\n\nPart two."
    assert merged.key_points == ["Budget is fine", "Launch in May"]
    assert merged.action_items == ["Alice sends notes"]
    assert merged.languages == ["en", "fr"]


@pytest.mark.parametrize(
    ("label", "roster", "expected"),
    [
        ("Alice", ["Alice", "Bob"], "Alice"),
        ("ALICE", ["Alice", "Bob"], "Alice"),
        ("Alice Smith", ["Alice", "Bob"], "Alice"),
        ("Bob", ["Alice", "Bob Jones"], "Bob Jones"),
        ("speaker_02", ["Speaker 1", "Speaker 2"], "Speaker 2"),
        ("Speaker 1", ["Alice", "Bob"], "Alice"),
        ("Speaker 3", ["Alice", "Bob"], "Speaker 3"),
        ("Carol", ["Alice", "Bob"], "Carol"),
        ("Speaker 2", None, "Speaker 2"),
    ],
)
def test_merge_chunks_maps_labels_onto_roster(
    label: str, roster: list[str] | None, expected: str
) -> None:
    merged = merge_chunks([(0.0, 60.0, chunk("x", [("0:01", label)]))], roster=roster)
    assert merged.segments[0].speaker == expected


def test_merge_chunks_keeps_order_with_bad_or_overlong_chunk_stamps() -> None:
    a = chunk("a", [("0:10", "A"), ("5:00", "A")])  # 5:00 is past this 60 s chunk
    b = chunk("b", [("zz", "A"), ("0:30", "A")])
    merged = merge_chunks([(0.0, 60.0, a), (60.0, 60.0, b)])
    values = [parse_timestamp(s.timestamp) for s in merged.segments]
    assert values == [10, 60, 60, 90]


def test_merge_chunks_of_nothing() -> None:
    merged = merge_chunks([])
    assert merged.segments == [] and merged.summary == ""


def test_language_translation_and_emotion_survive_repair_and_merge() -> None:
    seg = Segment(
        speaker="speaker_2",
        timestamp="zz",
        content="Hola.",
        language="es",
        translation="Hello.",
        emotion="happy",
    )
    plain = Segment(speaker="Ana", timestamp="0:05", content="Hi.", language="en")
    t = Transcript(summary="s", segments=[plain, seg, plain])
    repaired, _ = check_timestamps(t, 60.0)
    merged = merge_chunks([(60.0, 60.0, repaired)], roster=["Ana", "Ben"])
    for out in (repaired.segments[1], merged.segments[1]):
        assert (out.content, out.language, out.translation, out.emotion) == (
            "Hola.",
            "es",
            "Hello.",
            "happy",
        )
    assert merged.segments[1].speaker == "Ben"
    assert merged.segments[0].translation is None
    assert [s.timestamp for s in merged.segments] == ["01:05", "01:05", "01:05"]
