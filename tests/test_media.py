"""Acceptance tests for bot.media.prepare on real files encoded with PyAV (tests/media_factory.py)."""

from __future__ import annotations

import itertools
import random
from array import array
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from bot.errors import (
    CorruptMediaError,
    NotMediaError,
    SilentMediaError,
    TooLongError,
    UserFacingError,
)
from bot.media.prepare import (
    SUPPORTED_MIME_TYPES,
    PreparedAudio,
    estimate_audio_tokens,
    prepare_audio,
    probe,
    split_audio,
)
from bot.media.split import BIN_S, choose_cuts
from bot.media.types import too_long_message
from tests.media_factory import FORMATS, make_audio, make_format, make_video, quiet_gaps

SOURCE_S = 6.0


def decoded(path: Path) -> tuple[float, int, int]:
    """(seconds of audio actually decoded, audio streams, video streams) of a file."""
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
        rate = container.streams.audio[0].sample_rate
        return samples / rate, len(container.streams.audio), len(container.streams.video)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every FORMATS entry, SOURCE_S long, made once for the module."""
    directory = tmp_path_factory.mktemp("sources")
    return {name: make_format(name, directory, duration_s=SOURCE_S) for name in FORMATS}


# --- every format in, a supported format out ------------------------------------------------

# name -> (codec probe reports, MIME type we send, re-muxed unchanged?)
EXPECTED = {
    "m4a_aac": ("aac", "audio/aac", True),
    "slack_clip_mp4_as_webm": ("aac", "audio/aac", True),
    "mp3": ("mp3", "audio/mp3", False),  # 128 kbit/s: smaller as 16 kHz mono
    "mp3_voice": ("mp3", "audio/mp3", True),
    "wav": ("pcm_s16le", "audio/mp3", False),
    "flac": ("flac", "audio/mp3", False),
    "aiff": ("pcm_s16be", "audio/mp3", False),
    "ogg_vorbis": ("vorbis", "audio/ogg", True),
    "ogg_opus_whatsapp": ("opus", "audio/mp3", False),
    "webm_opus": ("opus", "audio/mp3", False),
    "mp4_h264_aac": ("aac", "audio/mp3", False),  # 128 kbit/s AAC
    "mov_h264_aac": ("aac", "audio/aac", True),
    "amr_nb": ("amr_nb", "audio/mp3", False),
    "3gp_amr": ("amr_nb", "audio/mp3", False),
}


def test_expected_table_covers_every_format() -> None:
    assert set(FORMATS) <= set(EXPECTED)
    assert {"m4a_aac", "mp3", "wav", "flac", "ogg_vorbis", "ogg_opus_whatsapp"} <= set(FORMATS)
    assert {"webm_opus", "aiff", "mp4_h264_aac", "mov_h264_aac"} <= set(FORMATS)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_probe_reads_the_bytes_not_the_name(name: str, sources: dict[str, Path]) -> None:
    info = probe(sources[name])
    codec, _, _ = EXPECTED[name]
    assert info.has_audio
    assert info.audio_codec == codec
    assert info.has_video == (FORMATS[name]["kind"] == "video")
    assert info.duration_s == pytest.approx(SOURCE_S, rel=0.01)
    assert info.sample_rate and info.channels
    if name == "slack_clip_mp4_as_webm":
        assert "mp4" in info.container.split(",")


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_prepare_audio_sends_supported_audio_of_the_same_length(
    name: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    src = sources[name]
    source_codec, mime, remuxed = EXPECTED[name]
    prepared = prepare_audio(src, tmp_path, max_minutes=1)

    assert prepared.mime_type in SUPPORTED_MIME_TYPES
    assert prepared.mime_type == mime
    assert prepared.path.parent == tmp_path
    assert prepared.size_bytes == prepared.path.stat().st_size > 0
    assert prepared.offset_s == 0.0
    assert prepared.duration_s == pytest.approx(SOURCE_S, rel=0.01)
    seconds, n_audio, n_video = decoded(prepared.path)
    assert seconds == pytest.approx(SOURCE_S, rel=0.01)
    assert (n_audio, n_video) == (1, 0)  # video frames are never sent
    out = probe(prepared.path)
    if remuxed:
        assert out.audio_codec == source_codec
    else:
        assert (out.audio_codec, out.sample_rate, out.channels) == ("mp3", 16000, 1)


@pytest.mark.parametrize("name", [n for n in sorted(FORMATS) if FORMATS[n]["kind"] == "video"])
def test_video_comes_out_as_a_much_smaller_audio_only_file(
    name: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    assert probe(sources[name]).has_video
    prepared = prepare_audio(sources[name], tmp_path, max_minutes=1)
    assert not probe(prepared.path).has_video
    assert prepared.size_bytes < sources[name].stat().st_size


# --- broken input -------------------------------------------------------------------------


def _m4a(d: Path) -> Path:
    return make_audio(d / "memo.m4a", duration_s=SOURCE_S)


def _overwrite_middle(path: Path, start: float, stop: float) -> Path:
    data = bytearray(path.read_bytes())
    a, b = int(len(data) * start), int(len(data) * stop)
    data[a:b] = random.Random(7).randbytes(b - a)
    path.write_bytes(bytes(data))
    return path


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


BROKEN: dict[str, tuple[Callable[[Path], Path], type[UserFacingError], str]] = {
    "corrupt_aac_frames": (
        lambda d: _overwrite_middle(_m4a(d), 0.2, 0.75),
        CorruptMediaError,
        "damaged",
    ),
    "corrupt_flac_frames_skipped": (
        lambda d: _overwrite_middle(make_audio(d / "take.flac", duration_s=SOURCE_S), 0.2, 0.8),
        CorruptMediaError,
        "could be read",
    ),
    "truncated_upload": (lambda d: _truncate(_m4a(d)), CorruptMediaError, "incomplete"),
    "zero_length": (lambda d: _touch(d / "clip.m4a"), CorruptMediaError, "empty"),
    "random_bytes": (
        lambda d: _write(d / "clip.m4a", random.Random(1).randbytes(5000)),
        NotMediaError,
        "doesn't look like audio or video",
    ),
    "video_without_audio": (
        lambda d: make_video(d / "screen.mp4", with_audio=False, duration_s=2),
        NotMediaError,
        "no sound track",
    ),
    "silent_aac": (
        lambda d: make_audio(d / "memo.m4a", silent=True),
        SilentMediaError,
        "microphone",
    ),
    "silent_wav": (
        lambda d: make_audio(d / "memo.wav", silent=True),
        SilentMediaError,
        "couldn't hear anything",
    ),
    "pdf": (
        lambda d: _write(d / "notes.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" * 40),
        NotMediaError,
        "doesn't look like audio or video",
    ),
    "text_named_mp3": (
        lambda d: _write(d / "song.mp3", b"meeting notes, action items\n" * 100),
        NotMediaError,
        "doesn't look like audio or video",
    ),
}


def _touch(path: Path) -> Path:
    path.touch()
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_input_raises_a_helpful_error_and_leaves_nothing(case: str, tmp_path: Path) -> None:
    build, error, fragment = BROKEN[case]
    inputs, workdir = tmp_path / "in", tmp_path / "work"
    inputs.mkdir()
    src = build(inputs)
    with pytest.raises(error) as caught:
        prepare_audio(src, workdir, max_minutes=10)
    message = str(caught.value)
    assert fragment in message
    assert message.endswith(".") and "Traceback" not in message and "av." not in message
    assert not workdir.exists() or list(workdir.iterdir()) == []
    assert src.exists()  # the input is the caller's to delete


@pytest.mark.parametrize("name", ["long.mp3", "long.wav", "long.m4a"])
def test_too_long_names_both_lengths(name: str, tmp_path: Path) -> None:
    src = make_audio(tmp_path / name, duration_s=20)
    workdir = tmp_path / "work"
    with pytest.raises(TooLongError) as caught:
        prepare_audio(src, workdir, max_minutes=0.25)
    assert "20 s" in str(caught.value)
    assert "the limit here is 15 s" in str(caught.value)
    assert not workdir.exists() or list(workdir.iterdir()) == []


@pytest.mark.parametrize(
    ("duration_s", "limit_s", "expected"),
    [
        (5 * 3600 + 12 * 60, 4 * 3600, "This recording is 5 h 12 min long; the limit here is 4 h."),
        (4 * 3600 + 20, 4 * 3600, "This recording is 4 h 20 s long; the limit here is 4 h."),
        (90, 60, "This recording is 1 min 30 s long; the limit here is 1 min."),
    ],
)
def test_too_long_message(duration_s: float, limit_s: float, expected: str) -> None:
    assert too_long_message(duration_s, limit_s) == (
        f"{expected} Trim it or split it and share the parts."
    )


@pytest.mark.parametrize(("seconds", "tokens"), [(0, 0), (1, 32), (60, 1920), (1.01, 33)])
def test_estimate_audio_tokens(seconds: float, tokens: int) -> None:
    assert estimate_audio_tokens(seconds) == tokens


# --- splitting ----------------------------------------------------------------------------

LONG_S, CHUNK_S, WINDOW_S = 65.0, 20.0, 1.5


@pytest.mark.parametrize("name", ["m4a_aac", "wav", "ogg_vorbis"])  # aac, mp3, ogg out
def test_split_cuts_in_quiet_gaps_and_covers_everything(name: str, tmp_path: Path) -> None:
    src = make_format(name, tmp_path, duration_s=LONG_S)
    prepared = prepare_audio(src, tmp_path / "work", max_minutes=5)
    chunks = split_audio(prepared, tmp_path / "work", chunk_s=CHUNK_S, window_s=WINDOW_S)

    assert len(chunks) >= 3
    assert chunks[0].offset_s == 0.0
    for before, after in itertools.pairwise(chunks):
        assert after.offset_s == pytest.approx(before.offset_s + before.duration_s, abs=1e-9)
    total = sum(c.duration_s for c in chunks)
    assert total == pytest.approx(prepared.duration_s, rel=0.01)
    assert total == pytest.approx(LONG_S, rel=0.01)

    gaps = quiet_gaps(LONG_S)
    for chunk in chunks[1:]:
        assert any(a <= chunk.offset_s <= b for a, b in gaps), chunk.offset_s
    for chunk in chunks[:-1]:
        assert CHUNK_S - WINDOW_S - 0.1 <= chunk.duration_s <= CHUNK_S + WINDOW_S + 0.1
    for chunk in chunks:
        assert chunk.mime_type == prepared.mime_type
        assert chunk.path.exists() and chunk.path != prepared.path
        assert chunk.size_bytes == chunk.path.stat().st_size
        seconds, _, _ = decoded(chunk.path)
        assert seconds == pytest.approx(chunk.duration_s, abs=0.1)


def test_split_leaves_short_audio_whole(sources: dict[str, Path], tmp_path: Path) -> None:
    prepared = prepare_audio(sources["mp3"], tmp_path, max_minutes=1)
    assert split_audio(prepared, tmp_path, chunk_s=10) == [prepared]


def test_split_offsets_add_to_the_parent_offset(sources: dict[str, Path], tmp_path: Path) -> None:
    prepared = prepare_audio(sources["wav"], tmp_path, max_minutes=1)
    shifted = PreparedAudio(**{**prepared.__dict__, "offset_s": 100.0})
    chunks = split_audio(shifted, tmp_path, chunk_s=2.0, window_s=0.5)
    assert len(chunks) >= 2
    assert chunks[0].offset_s == 100.0
    assert chunks[-1].offset_s + chunks[-1].duration_s == pytest.approx(100 + SOURCE_S, rel=0.01)


def _envelope(levels: list[float]) -> array[float]:
    return array("d", [level for level in levels for _ in range(round(1 / BIN_S))])  # 1 s each


@pytest.mark.parametrize(
    ("levels", "chunk_s", "window_s", "expected"),
    [
        # Loud except second 12: the first cut goes there, not to the target (10 s); the
        # next target (cut + 10 s) is loud throughout, so the cut stays on target.
        ([1.0] * 12 + [0.0] + [1.0] * 20, 10.0, 3.0, [(12.0, 13.0), (22.0, 23.0)]),
        # The silence at second 15 is outside the ±2 s window; the quieter second 8 wins.
        ([1.0] * 8 + [0.5] + [1.0] * 6 + [0.0] + [1.0] * 14, 10.0, 2.0, [(8.0, 9.0), (18, 19)]),
        # Short enough for one chunk (<= chunk_s + window_s): no cuts.
        ([1.0] * 13, 10.0, 3.0, []),
    ],
)
def test_choose_cuts(
    levels: list[float], chunk_s: float, window_s: float, expected: list[tuple[float, float]]
) -> None:
    cuts = choose_cuts(_envelope(levels), float(len(levels)), chunk_s=chunk_s, window_s=window_s)
    assert len(cuts) == len(expected)
    for cut, (lo, hi) in zip(cuts, expected, strict=True):
        assert lo <= cut <= hi
