"""Turn whatever people share (voice memos, clips, recordings, videos) into audio Gemini accepts.

Everything is judged by the bytes (FFmpeg's probing via PyAV), never the file name, and
everything streams a packet or frame at a time, so memory does not grow with file size.

Output format, and why:
- Lossy audio that Gemini already takes is re-muxed without re-encoding: AAC (from MP4, M4A,
  MOV, 3GP, MKV, WebM…) -> ADTS `audio/aac`; MP3 -> `audio/mp3`; Vorbis -> Ogg `audio/ogg`.
  No generation loss, little CPU, and the bytes are already small: voice memos and clips
  are 32-96 kbit/s. Above 96 kbit/s (podcasts, Zoom/screen recordings at 128-256 kbit/s)
  the audio is transcoded as below instead, which sends 2-5x fewer bytes.
- Everything else (PCM WAV/AIFF, FLAC, ALAC, Opus, AMR, …) is transcoded to MP3, mono,
  16 kHz, 48 kbit/s CBR with LAME (bundled as libmp3lame). Gemini downmixes to mono and works
  at 16 kHz anyway, so nothing it would use is lost, and 1 h costs ~21.6 MB (4 h ~ 86 MB)
  instead of 635 MB of 44.1 kHz stereo WAV. Rejected: WAV/AIFF (4-10x larger), FLAC (lossless,
  still ~3x larger for no gain at 16 kHz), AAC (FFmpeg's own encoder is weaker than LAME at low
  bit rates), Vorbis (libvorbis is not bundled; FFmpeg's own encoder is experimental, stereo
  only), Opus (not in Gemini's documented list). MP3 frames are short (36 ms at 16 kHz) and
  independent enough to cut chunks at frame boundaries without re-encoding.
- Video frames are never sent: only the audio track is read (Gemini bills ~258 tokens/s of
  video on top of 32 tokens/s of audio).
- While re-muxing or transcoding, every audio packet is also decoded: that proves the audio is
  readable (corrupt input fails here, not at Gemini) and measures the level (silent input).
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np

from bot.errors import (
    NO_SOUND_TRACK,
    CorruptMediaError,
    NotMediaError,
    SilentMediaError,
    TooLongError,
)
from bot.media.levels import frame_sum_squares
from bot.media.probe import not_media_message, open_input, pick_audio_stream, probe
from bot.media.split import split_audio
from bot.media.types import (
    SUPPORTED_MIME_TYPES,
    MediaInfo,
    PreparedAudio,
    dbfs,
    estimate_audio_tokens,
    human_duration,
    too_long_message,
)

__all__ = [
    "SUPPORTED_MIME_TYPES",
    "MediaInfo",
    "PreparedAudio",
    "estimate_audio_tokens",
    "prepare_audio",
    "probe",
    "split_audio",
]

logger = logging.getLogger(__name__)

#: Codecs Gemini takes as they are: codec -> (FFmpeg muxer, suffix, MIME type).
REMUX_TARGETS: dict[str, tuple[str, str, str]] = {
    "aac": ("adts", ".aac", "audio/aac"),
    "mp3": ("mp3", ".mp3", "audio/mp3"),
    "vorbis": ("ogg", ".ogg", "audio/ogg"),
}
#: Above this, re-muxing sends 2-5x the bytes of the transcode for nothing Gemini can hear
#: (it listens to 16 kHz mono), so transcode instead: smaller uploads, more fits inline.
REMUX_MAX_BIT_RATE = 96_000
#: The transcode target (see the module docstring for why).
TRANSCODE_RATE = 16_000
TRANSCODE_BIT_RATE = 48_000
TRANSCODE_MIME = "audio/mp3"
#: LAME's algorithm quality (0 best … 9 fastest). 7 ("fast, ok quality") encodes ~40 % faster
#: than the default 3; at 48 kbit/s 16 kHz mono speech for a speech model the loss is nil.
LAME_QUALITY = "7"

#: Loudest ~20-90 ms frame quieter than this (RMS) means nobody is audible: a muted mic
#: or an empty room sits around -60 dBFS and below; quiet speech is well above -45 dBFS.
SILENCE_RMS_DBFS = -55.0
#: Undecodable packets tolerated before the file counts as corrupt (a few glitches in a
#: long phone recording are normal; FFmpeg conceals them).
MAX_BAD_PACKET_FRACTION = 0.05
MIN_BAD_PACKETS = 3
#: Less than this share of the length the headers promise, and the file is damaged or cut off.
#: Generous, because some headers only estimate (MP3 without a Xing header, ADTS).
COMPLETE_FRACTION = 0.8


def prepare_audio(src: Path, workdir: Path, *, max_minutes: float) -> PreparedAudio:
    """Probe `src` and write its audio in a Gemini-supported format into `workdir`.

    Raises NotMediaError, CorruptMediaError, TooLongError or SilentMediaError with a message
    for the user; on any failure the partial output is removed.
    """
    info = probe(src)
    if not info.has_audio:
        if info.has_video:
            raise NotMediaError(
                "This video has no sound track, so there is nothing to transcribe. "
                "If it should have sound, check the recording's audio settings and share it again.",
                reason=NO_SOUND_TRACK,
            )
        raise NotMediaError(not_media_message())
    limit_s = max_minutes * 60
    if info.duration_s > limit_s:
        raise TooLongError(too_long_message(info.duration_s, limit_s))

    workdir.mkdir(parents=True, exist_ok=True)
    remux = REMUX_TARGETS.get(info.audio_codec or "")
    if remux is not None and (info.bit_rate or 0) > REMUX_MAX_BIT_RATE:
        remux = None  # e.g. 128-256 kbit/s AAC from Zoom or a podcast: smaller as 48k MP3
    suffix = remux[1] if remux else ".mp3"
    out_path = workdir / f"{src.stem}.prepared{suffix}"
    try:
        if remux is not None:
            try:
                duration_s = _remux(src, out_path, remux[0], limit_s)
                mime = remux[2]
            except _RemuxUnsupportedError:
                logger.info("cannot re-mux %s audio from %s; transcoding", info.audio_codec, src)
                out_path.unlink(missing_ok=True)
                out_path = out_path.with_suffix(".mp3")
                duration_s, mime = _transcode(src, out_path, limit_s), TRANSCODE_MIME
        else:
            duration_s, mime = _transcode(src, out_path, limit_s), TRANSCODE_MIME
        _check_complete(info.duration_s, duration_s)
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    return PreparedAudio(
        path=out_path, mime_type=mime, duration_s=duration_s, size_bytes=out_path.stat().st_size
    )


# --- re-mux and transcode ------------------------------------------------------------------


class _RemuxUnsupportedError(Exception):
    """The output muxer refused the codec parameters (e.g. AAC-LATM into ADTS)."""


class _AudioCheck:
    """Counts bad packets and tracks the loudest frame while audio streams past."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.packets = 0
        self.bad_packets = 0
        self.frames = 0
        self.max_rms = 0.0

    def decode(
        self, stream: av.AudioStream, packet: av.Packet[av.AudioStream]
    ) -> list[av.AudioFrame]:
        if packet.size:  # not demux's final (flush) packet
            self.packets += 1
        try:
            frames = stream.codec_context.decode(packet)
        except av.FFmpegError:
            self.bad_packets += 1
            return []
        self.frames += len(frames)
        return frames

    def measure(self, frame: av.AudioFrame) -> None:
        sum_sq, n = frame_sum_squares(frame.to_ndarray())
        if n:
            self.max_rms = max(self.max_rms, float(np.sqrt(sum_sq / n)))

    def check_length(self, seconds: float) -> None:
        # Headers can be missing or lie; enforce the limit on what actually streams past.
        if seconds > self.limit_s + 1.0:
            raise TooLongError(too_long_message(seconds, self.limit_s, at_least=True))

    def finish(self, duration_s: float) -> None:
        if self.frames == 0 or (
            self.bad_packets >= MIN_BAD_PACKETS
            and self.bad_packets > MAX_BAD_PACKET_FRACTION * self.packets
        ):
            raise CorruptMediaError(
                f"The sound in this file is damaged ({self.bad_packets} of {self.packets} "
                "audio blocks could not be read), so I can't transcribe it. Export it again "
                "from the app that recorded it and share the new file."
            )
        level = dbfs(self.max_rms)
        if level < SILENCE_RMS_DBFS:
            loudest = (
                "it is completely silent"
                if level == -np.inf
                else (f"its loudest moment is {level:.0f} dBFS")
            )
            raise SilentMediaError(
                f"I couldn't hear anything in this {human_duration(duration_s)} recording: "
                f"{loudest}. Check that the right microphone was on and not muted, then share "
                "it again."
            )


def _check_complete(header_s: float, decoded_s: float) -> None:
    """Damaged frames that a parser silently skips show up as audio missing from the end."""
    if decoded_s < COMPLETE_FRACTION * header_s - 1.0:
        raise CorruptMediaError(
            f"This file says it is {human_duration(header_s)} long, but only "
            f"{human_duration(decoded_s)} of it could be read: it is damaged or cut off. If the "
            "upload was interrupted, share it again; otherwise export it again from the app "
            "that recorded it."
        )


def _corrupt_at(seconds: float) -> CorruptMediaError:
    return CorruptMediaError(
        f"This file is damaged or cut off after {human_duration(seconds)}, so I can't read it "
        "all. If the upload was interrupted, share it again; otherwise export it again from the "
        "app that recorded it."
    )


def _remux(src: Path, out_path: Path, muxer: str, limit_s: float) -> float:
    """Copy the audio packets into `muxer` unchanged (decoding them only to check them)."""
    check = _AudioCheck(limit_s)
    with open_input(src) as container:
        stream = pick_audio_stream(container)
        assert stream is not None
        tb = stream.time_base
        assert tb is not None
        options = {"write_xing": "1"} if muxer == "mp3" else {}
        with av.open(str(out_path), "w", format=muxer, options=options) as out:
            try:
                ostream = out.add_stream_from_template(stream)
                out.start_encoding()
            except (av.FFmpegError, ValueError) as exc:
                raise _RemuxUnsupportedError(str(exc)) from exc
            first = end = None
            try:
                for packet in container.demux(stream):
                    for frame in check.decode(stream, packet):
                        check.measure(frame)
                    if packet.size == 0:
                        continue  # demux's final packet only flushes the decoder
                    if packet.pts is not None:
                        first = packet.pts if first is None else min(first, packet.pts)
                        end = max(end or packet.pts, packet.pts + (packet.duration or 0))
                        check.check_length(float((end - first) * tb))
                    packet.stream = ostream
                    out.mux(packet)
            except av.FFmpegError as exc:
                seconds = float((end - first) * tb) if first is not None and end else 0.0
                raise _corrupt_at(seconds) from exc
    duration_s = float((end - first) * tb) if first is not None and end is not None else 0.0
    check.finish(duration_s)
    return duration_s


def _transcode(src: Path, out_path: Path, limit_s: float) -> float:
    """Decode the audio and encode it as 16 kHz mono MP3, frame by frame."""
    check = _AudioCheck(limit_s)
    resampler = av.AudioResampler(format="s16p", layout="mono", rate=TRANSCODE_RATE)
    samples = 0
    with open_input(src) as container:
        stream = pick_audio_stream(container)
        assert stream is not None
        with av.open(str(out_path), "w", format="mp3") as out:
            ostream = out.add_stream(
                "libmp3lame", rate=TRANSCODE_RATE, options={"compression_level": LAME_QUALITY}
            )
            ostream.codec_context.layout = "mono"
            ostream.codec_context.format = "s16p"
            ostream.codec_context.bit_rate = TRANSCODE_BIT_RATE

            def encode(frames: list[av.AudioFrame]) -> None:
                nonlocal samples
                for frame in frames:
                    check.measure(frame)
                    frame.pts = samples
                    samples += frame.samples
                    out.mux(ostream.encode(frame))
                check.check_length(samples / TRANSCODE_RATE)

            try:
                for packet in container.demux(stream):
                    for decoded in check.decode(stream, packet):
                        encode(resampler.resample(decoded))
                encode(resampler.resample(None))
            except av.FFmpegError as exc:
                raise _corrupt_at(samples / TRANSCODE_RATE) from exc
            out.mux(ostream.encode(None))
    duration_s = samples / TRANSCODE_RATE
    check.finish(duration_s)
    return duration_s
