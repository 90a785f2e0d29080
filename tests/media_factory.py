"""Real encoded test media, made with PyAV at test time (no binary fixtures in the repo).

The audio signal is speech-like: tone bursts of varying pitch separated by quiet
gaps, so that quiet-point splitting has something to find. `quiet_gaps()` says
exactly where the gaps are. Everything is generated frame by frame, so long
files cost time, never memory.

Use `make_format(name, directory)` to build one of `FORMATS` by name.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

#: The signal repeats every PERIOD_S seconds: BURST_S of tone, then GAP_S of near-silence.
PERIOD_S = 2.0
BURST_S = 1.5
GAP_S = PERIOD_S - BURST_S
#: Pitches of successive bursts (Hz); a voice-like range with harmonics added below.
_PITCHES = (180.0, 220.0, 140.0, 260.0, 200.0, 160.0, 240.0)
_AMPLITUDE = 0.4
#: Level of the "quiet" gaps: faint noise (about -66 dBFS), like a room between words.
_GAP_NOISE = 0.0005
_BLOCK = 4096  # samples generated per frame

# Suffix -> (FFmpeg muxer, usual codec in it).
_CONTAINERS: dict[str, tuple[str, str]] = {
    ".m4a": ("ipod", "aac"),
    ".mp4": ("mp4", "aac"),
    ".mov": ("mov", "aac"),
    ".3gp": ("3gp", "libopencore_amrnb"),
    ".aac": ("adts", "aac"),
    ".mp3": ("mp3", "libmp3lame"),
    ".wav": ("wav", "pcm_s16le"),
    ".flac": ("flac", "flac"),
    ".ogg": ("ogg", "vorbis"),
    ".oga": ("ogg", "vorbis"),
    ".opus": ("ogg", "libopus"),
    ".webm": ("webm", "libopus"),
    ".mka": ("matroska", "libopus"),
    ".mkv": ("matroska", "aac"),
    ".aiff": ("aiff", "pcm_s16be"),
    ".aif": ("aiff", "pcm_s16be"),
    ".amr": ("amr", "libopencore_amrnb"),
}
_CODEC_ALIASES = {"mp3": "libmp3lame", "opus": "libopus", "amr_nb": "libopencore_amrnb"}
# Codecs that only take fixed rates / channel counts.
_FIXED_RATE = {"libopencore_amrnb": 8000, "libopus": 48000}
_MONO_ONLY = {"libopencore_amrnb"}
_STEREO_ONLY = {"vorbis"}  # FFmpeg's native Vorbis encoder


def quiet_gaps(duration_s: float) -> list[tuple[float, float]]:
    """(start, end) seconds of every quiet gap in a `make_audio` signal of this length."""
    gaps = []
    t = BURST_S
    while t < duration_s:
        gaps.append((t, min(t + GAP_S, duration_s)))
        t += PERIOD_S
    return gaps


def _signal(start: int, count: int, rate: int, silent: bool) -> np.ndarray:
    """`count` mono float32 samples starting at sample `start`."""
    if silent:
        return np.zeros(count, dtype=np.float32)
    t = (start + np.arange(count, dtype=np.float64)) / rate
    period_idx = np.floor(t / PERIOD_S).astype(np.int64)
    phase = t - period_idx * PERIOD_S
    pitch = np.asarray(_PITCHES)[period_idx % len(_PITCHES)]
    # Fundamental plus two harmonics, a slow vibrato, and a 30 ms fade at each end.
    f0 = pitch * (1.0 + 0.03 * np.sin(2 * math.pi * 5.0 * t))
    tone = (
        np.sin(2 * math.pi * f0 * t)
        + 0.5 * np.sin(2 * math.pi * 2 * f0 * t)
        + 0.25 * np.sin(2 * math.pi * 3 * f0 * t)
    ) / 1.75
    fade = np.clip(np.minimum(phase, BURST_S - phase) / 0.03, 0.0, 1.0)
    in_burst = phase < BURST_S
    rng = np.random.default_rng(start)
    noise = rng.uniform(-_GAP_NOISE, _GAP_NOISE, count)
    out = np.where(in_burst, _AMPLITUDE * tone * fade, 0.0) + noise
    return out.astype(np.float32)


def _container_for(path: Path, container: str | None) -> tuple[str, str]:
    suffix = path.suffix.lower()
    fmt, codec = _CONTAINERS.get(suffix, ("matroska", "aac"))
    return (container or fmt), codec


def _audio_frames(
    duration_s: float, rate: int, channels: int, silent: bool
) -> Iterator[av.AudioFrame]:
    total = round(duration_s * rate)
    layout = "mono" if channels == 1 else "stereo"
    pos = 0
    while pos < total:
        n = min(_BLOCK, total - pos)
        mono = _signal(pos, n, rate, silent)
        # Stereo: right channel slightly quieter, so channels differ.
        data = mono[None, :] if channels == 1 else np.stack([mono, 0.8 * mono])
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = pos
        frame.time_base = Fraction(1, rate)
        yield frame
        pos += n


def _add_audio_stream(
    out: av.container.OutputContainer,
    codec: str,
    rate: int,
    channels: int,
    bit_rate: int | None = None,
) -> Any:
    codec = _CODEC_ALIASES.get(codec, codec)
    rate = _FIXED_RATE.get(codec, rate)
    if codec in _MONO_ONLY:
        channels = 1
    if codec in _STEREO_ONLY:
        channels = 2
    # FFmpeg's own Vorbis encoder is flagged "experimental" (libvorbis is not bundled) and
    # ignores bit_rate; quality 2 gives ~58 kbit/s stereo, like a typical voice note.
    options = (
        {"strict": "experimental", "flags": "+qscale", "global_quality": str(2 * 118)}
        if codec == "vorbis"
        else {}
    )
    stream = out.add_stream(codec, rate=rate, options=options)
    stream.codec_context.layout = "mono" if channels == 1 else "stereo"
    if bit_rate:
        stream.codec_context.bit_rate = bit_rate
    return stream


def make_audio(
    path: Path,
    *,
    duration_s: float = 5.0,
    codec: str | None = None,
    container: str | None = None,
    sample_rate: int = 44100,
    channels: int = 1,
    silent: bool = False,
    bit_rate: int | None = None,
) -> Path:
    """Write a speech-like (or silent) audio file and return its path.

    `container` defaults to the one the suffix implies (.m4a -> ipod, .webm -> webm, …);
    `codec` defaults to the usual codec for that container (aac for the MP4 family,
    libopus for webm/.opus, vorbis for .ogg, PCM for wav/aiff, …). Pass `container`
    to lie with the suffix, e.g. AAC-in-MP4 named `clip.webm` like Slack's clips.
    """
    path = Path(path)
    fmt, default_codec = _container_for(path, container)
    codec = codec or default_codec
    with av.open(str(path), "w", format=fmt) as out:
        stream = _add_audio_stream(out, codec, sample_rate, channels, bit_rate)
        enc_rate = stream.codec_context.sample_rate
        enc_channels = stream.codec_context.channels
        for frame in _audio_frames(duration_s, enc_rate, enc_channels, silent):
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _video_frames(width: int, height: int, count: int) -> Iterator[np.ndarray]:
    """A few distinct RGB frames (a bar moving across a grey slide), reused in a loop."""
    base = np.full((height, width, 3), 90, dtype=np.uint8)
    cache: list[np.ndarray] = []
    for i in range(min(count, 8)):
        img = base.copy()
        x = (i * width) // 8
        img[:, x : x + max(1, width // 16)] = (230, 180, 40)
        cache.append(img)
    for i in range(count):
        yield cache[i % len(cache)]


def make_video(
    path: Path,
    *,
    duration_s: float = 5.0,
    width: int = 320,
    height: int = 240,
    fps: int = 10,
    with_audio: bool = True,
    video_codec: str = "h264",
    audio_codec: str = "aac",
    container: str | None = None,
    sample_rate: int = 44100,
    channels: int = 1,
    audio_bit_rate: int | None = None,
) -> Path:
    """Write a small video (optionally with a speech-like audio track) and return its path."""
    path = Path(path)
    fmt, _ = _container_for(path, container)
    try:
        av.codec.Codec(video_codec, "w")
    except av.codec.codec.UnknownCodecError:
        video_codec = "mpeg4"
    with av.open(str(path), "w", format=fmt) as out:
        options = {"preset": "ultrafast"} if video_codec in ("h264", "libx264") else {}
        vstream = out.add_stream(video_codec, rate=fps, options=options)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        astream = (
            _add_audio_stream(out, audio_codec, sample_rate, channels, audio_bit_rate)
            if with_audio
            else None
        )
        n_frames = max(1, round(duration_s * fps))
        audio_iter = (
            _audio_frames(
                duration_s,
                astream.codec_context.sample_rate,
                astream.codec_context.channels,
                silent=False,
            )
            if astream is not None
            else iter(())
        )
        audio_t = 0.0
        for i, img in enumerate(_video_frames(width, height, n_frames)):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(vstream.encode(frame))
            # Interleave audio up to the current video time.
            while astream is not None and audio_t <= (i + 1) / fps:
                aframe = next(audio_iter, None)
                if aframe is None:
                    break
                out.mux(astream.encode(aframe))
                audio_t = (aframe.pts + aframe.samples) / aframe.sample_rate
        out.mux(vstream.encode(None))
        if astream is not None:
            for aframe in audio_iter:
                out.mux(astream.encode(aframe))
            out.mux(astream.encode(None))
    return path


def _can_encode(codec: str) -> bool:
    try:
        av.codec.Codec(codec, "w")
    except Exception:
        return False
    return True


#: name -> {"kind": "audio"|"video", "suffix": file suffix, "kwargs": for make_audio/make_video}.
#: What people share in Slack, by the bytes that arrive.
FORMATS: dict[str, dict[str, Any]] = {
    "m4a_aac": {"kind": "audio", "suffix": ".m4a", "kwargs": {"codec": "aac"}},  # iPhone memo
    "slack_clip_mp4_as_webm": {  # Slack audio clip: AAC in MP4, named .webm
        "kind": "audio",
        "suffix": ".webm",
        "kwargs": {"codec": "aac", "container": "mp4", "sample_rate": 48000},
    },
    "mp3": {  # podcast: 128 kbit/s stereo
        "kind": "audio",
        "suffix": ".mp3",
        "kwargs": {"codec": "libmp3lame", "channels": 2, "bit_rate": 128_000},
    },
    "mp3_voice": {  # a voice recorder app: 64 kbit/s mono
        "kind": "audio",
        "suffix": ".mp3",
        "kwargs": {"codec": "libmp3lame", "bit_rate": 64_000},
    },
    "wav": {"kind": "audio", "suffix": ".wav", "kwargs": {"codec": "pcm_s16le", "channels": 2}},
    "flac": {
        "kind": "audio",
        "suffix": ".flac",
        "kwargs": {"codec": "flac", "sample_rate": 48000, "channels": 2},
    },
    "aiff": {"kind": "audio", "suffix": ".aiff", "kwargs": {"codec": "pcm_s16be"}},
    "ogg_vorbis": {
        "kind": "audio",
        "suffix": ".ogg",
        "kwargs": {"codec": "vorbis"},
    },
    "ogg_opus_whatsapp": {
        "kind": "audio",
        "suffix": ".ogg",
        "kwargs": {"codec": "libopus", "sample_rate": 48000},
    },
    "webm_opus": {"kind": "audio", "suffix": ".webm", "kwargs": {"codec": "libopus"}},
    "mp4_h264_aac": {  # Zoom/Meet: 128 kbit/s stereo AAC
        "kind": "video",
        "suffix": ".mp4",
        "kwargs": {"channels": 2, "sample_rate": 48000, "audio_bit_rate": 128_000},
    },
    "mov_h264_aac": {"kind": "video", "suffix": ".mov", "kwargs": {}},  # screen recording
}
if _can_encode("libopencore_amrnb"):
    FORMATS["amr_nb"] = {"kind": "audio", "suffix": ".amr", "kwargs": {"codec": "amr_nb"}}
    FORMATS["3gp_amr"] = {"kind": "audio", "suffix": ".3gp", "kwargs": {"codec": "amr_nb"}}


def make_format(name: str, directory: Path, **overrides: Any) -> Path:
    """Build `FORMATS[name]` as `directory/<name><suffix>`; `overrides` go to the maker."""
    spec = FORMATS[name]
    path = Path(directory) / f"{name}{spec['suffix']}"
    kwargs = {**spec["kwargs"], **overrides}
    if spec["kind"] == "video":
        return make_video(path, **kwargs)
    return make_audio(path, **kwargs)
