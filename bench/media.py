"""Benchmark `bot.media.prepare.prepare_audio`: bytes and tokens saved, speed, and memory.

Run: `python bench/media.py` (add `--cache DIR` to keep inputs elsewhere; they are made once and
reused from `$TMPDIR/slack-scribe-bench`, ~2 GB).

Inputs (all generated with PyAV; the audio is tests/media_factory.py's speech-like signal):
- memo-10min.m4a: 10 min AAC, 44.1 kHz mono, FFmpeg's default ~69 kbit/s (iPhone-memo-like).
- studio-10min.wav: 10 min PCM, 44.1 kHz stereo 16-bit (106 MB).
- screen-60min-1080p.mp4: 60 min H.264 1920x1080 at 10 fps, x264 ABR 1.5 Mbit/s (what a
  Zoom/Meet 1080p recording typically averages), + AAC 48 kHz stereo 128 kbit/s.
  The picture is a grey slide with a bar moving across it and a 320x180 "webcam" tile of
  noise (a screen share with the speaker's camera). To keep generation cheap, 10 s are
  encoded once (x264 ultrafast, one closed GOP starting with an IDR frame) and those packets
  are muxed 360 times with shifted timestamps; the audio is likewise a 10 s AAC block repeated.
  The result is a valid MP4 that decodes end to end.
- big-1080p.mp4 (~1 GB): the same recipe at 1080p 30 fps with a full-frame noise picture
  (x264 ABR at 20 Mbit/s, like a QuickTime screen recording); the 10 s block is repeated until
  the file reaches 1 GiB (~7 min).

Method: each preparation runs in a fresh child process (`python bench/media.py --child SRC`)
under `/usr/bin/time -v` when present, whose "Maximum resident set size" is the peak RSS of the
whole child (interpreter, numpy and PyAV included); without it, the parent reads
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`. The child times only `prepare_audio` and
reports bytes, duration and MIME type as JSON. Tokens: audio 32/s; sending the original video
would cost 258/s for frames (1 frame/s) + 32/s for audio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402

from tests.media_factory import make_audio  # noqa: E402

VERSION = 2  # bump to regenerate cached inputs
VIDEO_TOKENS_PER_S = 258
AUDIO_TOKENS_PER_S = 32
GIB = 1 << 30


# --- input generation -----------------------------------------------------------------------


def _encode_loop_video(path: Path, *, fps: int, loop_s: int, noise: str, bit_rate: int | None):
    """Encode `loop_s` seconds of 1080p video as one closed GOP."""
    width, height = 1920, 1080
    n = fps * loop_s
    rng = np.random.default_rng(0)
    slide = np.full((height, width, 3), 200, dtype=np.uint8)
    slide[80:140, 160:1760] = 60  # a "title"
    with av.open(str(path), "w", format="mp4") as out:
        params = f"keyint={n}:min-keyint={n}:scenecut=0:bframes=0"
        options = {"preset": "ultrafast", "x264-params": params}
        stream = out.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if bit_rate:
            stream.codec_context.bit_rate = bit_rate
        for i in range(n):
            img = slide.copy()
            x = 160 + (i * 1600) // n
            img[400:700, x : x + 40] = (230, 120, 30)
            if noise == "tile":
                img[880:1060, 1580:1900] = rng.integers(0, 256, (180, 320, 3), dtype=np.uint8)
            else:
                img[:] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _looped_mp4(path: Path, *, fps: int, noise: str, bit_rate: int | None, loops: int | None):
    """Repeat a 10 s video block and a 10 s audio block; `loops=None`: until 1 GiB."""
    loop_s = 10
    work = Path(tempfile.mkdtemp(dir=path.parent))
    try:
        vloop, aloop = work / "v.mp4", work / "a.m4a"
        _encode_loop_video(vloop, fps=fps, loop_s=loop_s, noise=noise, bit_rate=bit_rate)
        make_audio(aloop, duration_s=loop_s, sample_rate=48000, channels=2, bit_rate=128_000)
        with av.open(str(vloop)) as vin, av.open(str(aloop)) as ain:
            vs, as_ = vin.streams.video[0], ain.streams.audio[0]
            vpk = [(p.pts, p.dts, p.duration, p.is_keyframe, bytes(p)) for p in vin.demux(vs)]
            apk = [(p.pts, p.dts, p.duration, False, bytes(p)) for p in ain.demux(as_)]
            vpk = [p for p in vpk if p[4]]
            apk = [p for p in apk if p[4]]
            vspan = vpk[-1][0] + vpk[-1][2] - vpk[0][0]
            aspan = apk[-1][0] + apk[-1][2] - apk[0][0]
            loop_bytes = sum(len(p[4]) for p in vpk + apk)
            count = loops if loops is not None else -(-GIB // loop_bytes)
            tmp = path.with_suffix(".partial")
            with av.open(str(tmp), "w", format="mp4") as out:
                ov, oa = out.add_stream_from_template(vs), out.add_stream_from_template(as_)
                for k in range(count):
                    merged = [(p, vs, ov, k * vspan) for p in vpk] + [
                        (p, as_, oa, k * aspan) for p in apk
                    ]
                    merged.sort(key=lambda m: float((m[0][1] + m[3]) * m[1].time_base))
                    for (pts, dts, dur, key, data), src, dst, shift in merged:
                        packet = av.Packet(data)
                        packet.pts, packet.dts, packet.duration = pts + shift, dts + shift, dur
                        packet.time_base = src.time_base
                        packet.is_keyframe = key
                        packet.stream = dst
                        out.mux(packet)
            tmp.rename(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_inputs(cache: Path) -> list[tuple[str, Path, bool]]:
    """(label, path, is_video) for every input, generating the missing ones."""
    cache.mkdir(parents=True, exist_ok=True)
    specs = [
        ("10-min m4a (AAC 69k mono)", f"memo-10min-v{VERSION}.m4a", False),
        ("10-min WAV (44.1k stereo)", f"studio-10min-v{VERSION}.wav", False),
        ("60-min 1080p MP4 (1.5 Mbit/s)", f"screen-60min-1080p-v{VERSION}.mp4", True),
        ("~1 GB 1080p MP4 (20 Mbit/s)", f"big-1080p-v{VERSION}.mp4", True),
    ]
    out = []
    for label, name, is_video in specs:
        path = cache / name
        if not path.exists():
            started = time.monotonic()
            print(f"generating {name} …", file=sys.stderr, flush=True)
            if name.startswith("memo"):
                make_audio(path, duration_s=600)
            elif name.startswith("studio"):
                make_audio(path, duration_s=600, channels=2)
            elif name.startswith("screen"):
                _looped_mp4(path, fps=10, noise="tile", bit_rate=1_500_000, loops=360)
            else:
                _looped_mp4(path, fps=30, noise="full", bit_rate=20_000_000, loops=None)
            print(f"  {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
        out.append((label, path, is_video))
    return out


# --- measurement ----------------------------------------------------------------------------


def child(src: Path) -> None:
    """Prepare one file and print the result as JSON (runs in its own process)."""
    from bot.media.prepare import prepare_audio

    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        prepared = prepare_audio(src, Path(workdir), max_minutes=240)
        seconds = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "duration_s": prepared.duration_s,
                    "size_bytes": prepared.size_bytes,
                    "mime_type": prepared.mime_type,
                }
            )
        )


def measure(src: Path) -> tuple[dict[str, float | str], float]:
    """Run `child` in a fresh process; (its JSON result, peak RSS in MiB)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(src)]
    time_bin = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if time_bin:
        proc = subprocess.run([time_bin, "-v", *cmd], capture_output=True, text=True, check=True)
        line = next(x for x in proc.stderr.splitlines() if "Maximum resident set size" in x)
        peak_mib = int(line.split(":")[1]) / 1024
    else:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # max so far
    return json.loads(proc.stdout.strip().splitlines()[-1]), peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "slack-scribe-bench"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    inputs = build_inputs(args.cache)
    header = (
        f"{'input':<30} {'shared MB':>10} {'sent MB':>8} {'sent %':>7} {'sent as':>10} "
        f"{'tokens orig':>12} {'tokens sent':>12} {'prep s/min':>10} {'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for label, path, is_video in inputs:
        result, peak_mib = measure(path)
        shared = path.stat().st_size
        duration = float(result["duration_s"])
        sent = int(result["size_bytes"])
        per_s = AUDIO_TOKENS_PER_S + (VIDEO_TOKENS_PER_S if is_video else 0)
        print(
            f"{label:<30} {shared / 1e6:>10.1f} {sent / 1e6:>8.2f} {100 * sent / shared:>6.2f}% "
            f"{result['mime_type']!s:>10} {round(duration * per_s):>12,} "
            f"{round(duration * AUDIO_TOKENS_PER_S):>12,} "
            f"{float(result['seconds']) / (duration / 60):>10.3f} {peak_mib:>12.1f}",
            flush=True,
        )
    print(f"\n{os.cpu_count()} CPUs; inputs cached in {args.cache}")


if __name__ == "__main__":
    main()
