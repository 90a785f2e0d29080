"""Cut long prepared audio into chunks at quiet points, for concurrent transcription.

Two streaming passes over the prepared file: the first decodes it and keeps only a
loudness envelope (one number per 100 ms, ~1 MB for 4 h); the second copies the compressed
packets into chunk files, cutting at packet boundaries (23-46 ms apart) without re-encoding.
Chunk offsets come from the packets' own timestamps, so they are exact on the audio's
timeline and chunks meet without gap or overlap.
"""

from __future__ import annotations

from array import array
from pathlib import Path

import av
import av.container

from bot.media.levels import frame_sum_squares
from bot.media.types import PreparedAudio

#: Resolution of the loudness envelope.
BIN_S = 0.1
#: Average the envelope over this many bins when looking for a pause, so that a cut lands
#: inside a pause of ~300 ms or more, not in a short dip inside a word.
SMOOTH_BINS = 3
_MUXERS = {
    "audio/aac": "adts",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "audio/flac": "flac",
    "audio/aiff": "aiff",
}


def split_audio(
    audio: PreparedAudio, workdir: Path, *, chunk_s: float, window_s: float = 30.0
) -> list[PreparedAudio]:
    """Cut `audio` about every `chunk_s` seconds, at the quietest point within ±`window_s`.

    Chunks cover the whole audio in order, without gaps or overlap; each is at most
    `chunk_s + window_s` long. Audio no longer than that comes back as `[audio]` (no copy).
    """
    if chunk_s <= 0 or window_s < 0:
        raise ValueError("chunk_s must be > 0 and window_s >= 0")
    if audio.duration_s <= chunk_s + window_s:
        return [audio]
    envelope = _loudness_envelope(audio.path)
    cuts = choose_cuts(envelope, audio.duration_s, chunk_s=chunk_s, window_s=window_s)
    if not cuts:
        return [audio]
    workdir.mkdir(parents=True, exist_ok=True)
    return _write_chunks(audio, workdir, cuts)


def choose_cuts(
    envelope: array[float], duration_s: float, *, chunk_s: float, window_s: float
) -> list[float]:
    """Cut times (s): each near `previous cut + chunk_s`, at the quietest smoothed bin."""
    smoothed = _moving_average(envelope, SMOOTH_BINS)
    cuts: list[float] = []
    prev = 0.0
    while duration_s - prev > chunk_s + window_s:
        target = prev + chunk_s
        lo = max(prev + chunk_s / 2, target - window_s)
        hi = min(duration_s - 1.0, target + window_s)
        first, last = int(lo / BIN_S), min(int(hi / BIN_S), len(smoothed) - 1)
        if first > last:
            cut = target
        else:
            best = min(
                range(first, last + 1),
                key=lambda i: (smoothed[i], abs((i + 0.5) * BIN_S - target)),
            )
            cut = (best + 0.5) * BIN_S
        cuts.append(cut)
        prev = cut
    return cuts


def _moving_average(values: array[float], width: int) -> array[float]:
    half = width // 2
    out = array("d", bytes(8 * len(values)))
    for i in range(len(values)):
        window = values[max(0, i - half) : i + half + 1]
        out[i] = sum(window) / len(window)
    return out


def _loudness_envelope(path: Path) -> array[float]:
    """Mean square level per BIN_S of the decoded audio, streaming."""
    sums: array[float] = array("d")
    counts: array[float] = array("d")
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        decoded = 0
        for frame in container.decode(stream):
            sum_sq, n = frame_sum_squares(frame.to_ndarray())
            mid_s = (decoded + frame.samples / 2) / rate
            decoded += frame.samples
            index = int(mid_s / BIN_S)
            while len(sums) <= index:
                sums.append(0.0)
                counts.append(0.0)
            sums[index] += sum_sq
            counts[index] += n
    return array("d", (s / c if c else 0.0 for s, c in zip(sums, counts, strict=True)))


def _write_chunks(audio: PreparedAudio, workdir: Path, cuts: list[float]) -> list[PreparedAudio]:
    """Copy packets into one file per chunk, switching files at the first packet past a cut."""
    written: list[Path] = []
    bounds: list[tuple[Path, int]] = []  # (path, first pts) per chunk
    muxer = _MUXERS[audio.mime_type]
    # No Xing/LAME header in chunks: it would tell decoders to drop encoder delay that only
    # the first chunk has.
    options = {"write_xing": "0"} if audio.mime_type == "audio/mp3" else {}
    out: av.container.OutputContainer | None = None
    try:
        with av.open(str(audio.path)) as container:
            stream = container.streams.audio[0]
            tb = stream.time_base
            assert tb is not None
            start = end = None
            ostream: av.AudioStream | None = None
            next_cut = 0
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                if start is None:
                    start = packet.pts
                if out is None or (
                    next_cut < len(cuts) and (packet.pts - start) * tb >= cuts[next_cut]
                ):
                    if out is not None:
                        out.close()
                        next_cut += 1
                    chunk_path = workdir / f"{audio.path.stem}.part{len(bounds):03d}"
                    chunk_path = chunk_path.with_name(chunk_path.name + audio.path.suffix)
                    written.append(chunk_path)
                    bounds.append((chunk_path, packet.pts))
                    out = av.open(str(chunk_path), "w", format=muxer, options=options)
                    ostream = out.add_stream_from_template(stream)
                chunk_start = bounds[-1][1]
                end = packet.pts + (packet.duration or 0)
                packet.pts -= chunk_start
                if packet.dts is not None:
                    packet.dts -= chunk_start
                assert ostream is not None
                packet.stream = ostream
                out.mux(packet)
            if out is not None:
                out.close()
                out = None
    except BaseException:
        if out is not None:
            out.close()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    assert start is not None and end is not None
    chunks = []
    for i, (path, first_pts) in enumerate(bounds):
        stop = bounds[i + 1][1] if i + 1 < len(bounds) else end
        chunks.append(
            PreparedAudio(
                path=path,
                mime_type=audio.mime_type,
                duration_s=float((stop - first_pts) * tb),
                size_bytes=path.stat().st_size,
                offset_s=audio.offset_s + float((first_pts - start) * tb),
            )
        )
    return chunks
