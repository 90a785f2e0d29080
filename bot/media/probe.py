"""Probe a file by its bytes (FFmpeg via PyAV): is it media, where is its audio, how long is it."""

from __future__ import annotations

from pathlib import Path

import av
import av.container
import av.stream

from bot.errors import CorruptMediaError, NotMediaError
from bot.media.types import MediaInfo

_VIDEO_CONTAINERS = ("mp4", "mov", "3gp", "matroska", "webm", "avi", "flv", "mpegts", "asf", "mpeg")
_SUPPORTED_HINT = "MP3, M4A, WAV, FLAC, Ogg, Opus, AMR, MP4, MOV or WebM"


def probe(path: Path) -> MediaInfo:
    """Find the audio (and any video) in `path` by content, and how long it is.

    Raises CorruptMediaError for empty or damaged media, NotMediaError for anything that is
    not audio or video at all. A video without a sound track is returned with
    `has_audio=False` (`prepare_audio` refuses it).
    """
    with open_input(path) as container:
        audio = pick_audio_stream(container)
        videos = [
            s
            for s in container.streams.video
            if not s.disposition & av.stream.Disposition.attached_pic  # MP3/M4A cover art
        ]
        if audio is None and not _is_video_container(container.format.name):
            videos = []  # a text file read as ANSI art, a still image, …
        if audio is None and not videos:
            raise NotMediaError(not_media_message())
        ctx = audio.codec_context if audio is not None else None
        return MediaInfo(
            duration_s=_duration_s(container, audio),
            has_audio=audio is not None,
            has_video=bool(videos),
            audio_codec=ctx.codec.canonical_name if ctx is not None else None,
            container=container.format.name,
            sample_rate=(ctx.sample_rate or None) if ctx is not None else None,
            channels=(ctx.channels or None) if ctx is not None else None,
            bit_rate=_audio_bit_rate(container, audio),
        )


def _audio_bit_rate(
    container: av.container.InputContainer, audio: av.AudioStream | None
) -> int | None:
    if audio is None:
        return None
    if audio.bit_rate:
        return int(audio.bit_rate)
    if len(container.streams) == 1 and container.bit_rate:
        return int(container.bit_rate)  # audio-only file: the container's rate is the audio's
    return None


# Leading bytes of common audio/video files: a match that FFmpeg cannot open is damaged media,
# anything else is not media at all.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "an MP4/M4A/MOV file"),
    (4, b"moov", "an MP4/MOV file"),
    (4, b"mdat", "an MP4/MOV file"),
    (0, b"RIFF", "a WAV/AVI file"),
    (0, b"FORM", "an AIFF file"),
    (0, b"ID3", "an MP3 file"),
    (0, b"fLaC", "a FLAC file"),
    (0, b"OggS", "an Ogg file"),
    (0, b"\x1a\x45\xdf\xa3", "a WebM/Matroska file"),
    (0, b"#!AMR", "an AMR file"),
    (0, b"\x30\x26\xb2\x75", "a WMA/WMV file"),
    (0, b"FLV", "an FLV file"),
)


def _media_kind(path: Path) -> str | None:
    with path.open("rb") as f:
        head = f.read(16)
    for offset, magic, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "an MP3/AAC file"  # MPEG audio / ADTS frame sync
    return None


def _is_video_container(format_name: str) -> bool:
    # FFmpeg names demuxers like "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm".
    return any(name in _VIDEO_CONTAINERS for name in format_name.split(","))


def not_media_message() -> str:
    return (
        "This file doesn't look like audio or video, so there is nothing to transcribe. "
        f"Share a voice memo, recording or video ({_SUPPORTED_HINT})."
    )


def open_input(path: Path) -> av.container.InputContainer:
    if path.stat().st_size == 0:
        raise CorruptMediaError(
            "This file is empty (0 bytes), so the upload probably did not finish. "
            "Please share it again."
        )
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        kind = _media_kind(path)
        if kind is None:
            raise NotMediaError(not_media_message()) from exc
        raise CorruptMediaError(
            f"This looks like {kind}, but it is damaged or incomplete, so I can't read it. "
            "If the upload was cut off, share it again; otherwise export it again from the app "
            "that recorded it."
        ) from exc


def pick_audio_stream(container: av.container.InputContainer) -> av.AudioStream | None:
    streams = list(container.streams.audio)
    if not streams:
        return None
    for stream in streams:
        if stream.disposition & av.stream.Disposition.default:
            return stream
    return streams[0]


def _duration_s(container: av.container.InputContainer, audio: av.AudioStream | None) -> float:
    """Header duration (audio stream first, then container); scan packets if there is none.

    Browser recordings (MediaRecorder WebM, e.g. some Slack clips) often carry no duration.
    """
    if audio is not None and audio.duration is not None and audio.time_base is not None:
        return float(audio.duration * audio.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    start = end = None
    target = audio if audio is not None else container.streams.video[0]
    tb = target.time_base
    for packet in container.demux(target):
        if packet.pts is None or tb is None:
            continue
        start = packet.pts if start is None else min(start, packet.pts)
        end = max(end or packet.pts, packet.pts + (packet.duration or 0))
    if start is None or end is None or tb is None:
        return 0.0
    return float((end - start) * tb)
