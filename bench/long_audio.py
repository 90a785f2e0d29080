"""Long-recording benchmark: chunked-concurrent transcription vs one request, wall time.

Run: `python bench/long_audio.py` (options: `--minutes 10 60 180`, `--latency S`,
`--tokens-per-s N`, `--cache DIR`). Takes ~8 min (4 of them the 3-hour single
request); inputs are cached in `$TMPDIR/slack-scribe-bench/long-audio`.

Method
------
- Audio: tests/media_factory.py's speech-like signal, MP3 mono, 16 kHz, 32 kbit/s (MP3
  rather than AAC because the emulator measures MP3 durations exactly; it estimates ADTS
  ones from the bit rate, ~6 % short). A 10-minute file is encoded once (~6 s); the 60-
  and 180-minute files repeat its packets with shifted timestamps. Each goes through
  `bot.media.prepare.prepare_audio` (kept as MP3) outside the timing, as the app does before
  either path. 180 min is 43 MB, so the one-request path uses the Files API; chunks
  (~2.7 MB) travel inline.
- Gemini: the emulator in tests/emulators/gemini.py over real HTTP with the real
  google-genai client, built like bot/app.py does (`GeminiConfig.from_settings(Settings)`, a
  `GeminiTranscriber` whose semaphore is SCRIBE_MAX_CONCURRENCY, default 4). Latency
  model: every request takes `--latency` s (default 1) plus (output + thought tokens) /
  `--tokens-per-s` (default 150); the emulator counts 4 characters per token and reports
  thought tokens for the thinking_level each request sends (bot.gemini.client.THINKING_LEVELS;
  the emulator's THINKING_MODEL, an invented model).
- Answers: the emulator's default transcript, one segment every 10 s, so output grows
  linearly with duration: ~33 tokens per segment, ~200 tokens per minute, 36k tokens
  for 3 h (printed per run). That is light speech: dense speech is ~2x that (and 3 h of it would not fit
  Gemini's 65,536-token answer at all, which is why long audio is chunked), so these
  numbers understate the gain. The speaker-roster pass is answered with a roster only
  (`{"speakers": [...]}`): the emulator answers in the shape of the schema requested.
- One request = `bot.gemini.chunked.transcribe_piece` on the whole prepared audio.
  Chunked = `bot.gemini.chunked.transcribe_recording`, the production path (for 10 min that
  is one request too); its time includes splitting the audio, the roster pass, the
  chunk requests and the whole-recording summary request.
- Every measurement has a fresh emulator and client; they run one after another.

Target (issue #4): 180 min chunked in <= 1/3 of the one-request time at concurrency 4.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.gemini.chunked import transcribe_piece, transcribe_recording  # noqa: E402
from bot.gemini.client import GeminiTranscriber, build_client  # noqa: E402
from bot.gemini.config import GeminiConfig, Usage  # noqa: E402
from bot.gemini.prompts import TranscribeOptions  # noqa: E402
from bot.media.prepare import PreparedAudio, prepare_audio  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.emulators.gemini import GeminiEmulator  # noqa: E402
from tests.media_factory import make_audio  # noqa: E402

VERSION = 1  # bump to regenerate cached inputs
BASE_MINUTES = 10
#: 16 kHz mono MP3 at 32 kbit/s: what prepare_audio keeps as is (re-mux), ~14 MB per hour.
SAMPLE_RATE = 16_000
BIT_RATE = 32_000
TARGET_RATIO = 1 / 3


def build_audio(cache: Path, minutes: int) -> Path:
    """A cached `minutes`-long MP3 file, repeated from the 10-minute base."""
    cache.mkdir(parents=True, exist_ok=True)
    base = cache / f"base-{BASE_MINUTES}min-v{VERSION}.mp3"
    if not base.exists():
        tmp = base.with_suffix(".tmp.mp3")
        make_audio(tmp, duration_s=BASE_MINUTES * 60, sample_rate=SAMPLE_RATE, bit_rate=BIT_RATE)
        tmp.rename(base)
    if minutes == BASE_MINUTES:
        return base
    if minutes % BASE_MINUTES:
        raise SystemExit(f"--minutes must be multiples of {BASE_MINUTES}")
    path = cache / f"long-{minutes}min-v{VERSION}.mp3"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.mp3")
    with av.open(str(base)) as src, av.open(str(tmp), "w", format="mp3") as out:
        stream = src.streams.audio[0]
        packets = [p for p in src.demux(stream) if p.size and p.pts is not None]
        tb = stream.time_base
        assert tb is not None
        period = packets[-1].pts + (packets[-1].duration or 0) - packets[0].pts
        ostream = out.add_stream_from_template(stream)
        for k in range(minutes // BASE_MINUTES):
            for p in packets:
                copy = av.Packet(bytes(p))
                copy.pts = p.pts + k * period
                copy.dts = (p.dts if p.dts is not None else p.pts) + k * period
                copy.duration = p.duration
                copy.time_base = tb
                copy.stream = ostream
                out.mux(copy)
    tmp.rename(path)
    return path


@dataclass
class Run:
    seconds: float
    chunks: int
    usage: Usage
    segments: int
    max_concurrent: int
    last_stamp: str


async def measure(
    audio: PreparedAudio, workdir: Path, *, chunked: bool, latency_s: float, tokens_per_s: float
) -> Run:
    emu = GeminiEmulator()
    await emu.start()
    emu.latency_s = latency_s
    emu.tokens_per_s = tokens_per_s
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, gemini_api_key=emu.api_key, gemini_base_url=emu.base_url
    )
    config = GeminiConfig.from_settings(settings)
    client = build_client(config)
    concurrency = settings.scribe_max_concurrency
    gemini = GeminiTranscriber(client, config, concurrency=asyncio.Semaphore(concurrency))
    usage = Usage()
    options = TranscribeOptions()
    try:
        started = time.perf_counter()
        if chunked:
            transcript, chunks = await transcribe_recording(
                gemini, audio, workdir, options, usage, concurrency=concurrency
            )
        else:
            transcript, chunks = await transcribe_piece(gemini, audio, options, usage), 1
        elapsed = time.perf_counter() - started
    finally:
        await client.aio.aclose()
        await emu.close()
    return Run(
        seconds=elapsed,
        chunks=chunks,
        usage=usage,
        segments=len(transcript.segments),
        max_concurrent=emu.max_concurrent_interactions,
        last_stamp=transcript.segments[-1].timestamp if transcript.segments else "-",
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, nargs="+", default=[10, 60, 180])
    parser.add_argument("--latency", type=float, default=1.0, help="fixed s per request")
    parser.add_argument("--tokens-per-s", type=float, default=150.0)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "slack-scribe-bench"
    )
    args = parser.parse_args()
    cache = args.cache / "long-audio"
    rows = []
    for minutes in args.minutes:
        src = await asyncio.to_thread(build_audio, cache, minutes)
        with tempfile.TemporaryDirectory(prefix="scribe-long-") as tmp:
            work = Path(tmp)
            audio = await asyncio.to_thread(prepare_audio, src, work / "prepared", max_minutes=240)
            kw = {"latency_s": args.latency, "tokens_per_s": args.tokens_per_s}
            one = await measure(audio, work / "one", chunked=False, **kw)
            many = await measure(audio, work / "chunks", chunked=True, **kw)
        ratio = many.seconds / one.seconds
        rows.append((minutes, audio, one, many, ratio))
        print(
            f"{minutes} min: one request {one.seconds:.1f} s "
            f"({one.usage.output_tokens} output tokens, {one.segments} segments, "
            f"last {one.last_stamp}); chunked {many.seconds:.1f} s in {many.chunks} chunks, "
            f"{many.usage.requests} requests, {many.max_concurrent} at once, "
            f"{many.segments} segments, last {many.last_stamp}",
            flush=True,
        )

    print()
    print(f"latency model: {args.latency:g} s + output tokens / {args.tokens_per_s:g} per s")
    print(
        "| audio | one request | output tokens | chunked (c=4) | chunks | requests "
        "| chunked / one |"
    )
    print("|---|---|---|---|---|---|---|")
    for minutes, _audio, one, many, ratio in rows:
        print(
            f"| {minutes} min | {one.seconds:.1f} s | {one.usage.output_tokens:,} "
            f"| {many.seconds:.1f} s | {many.chunks} | {many.usage.requests} | {ratio:.2f} |"
        )
    longest = rows[-1]
    verdict = "met" if longest[4] <= TARGET_RATIO else "MISSED"
    print(
        f"\ntarget: {longest[0]} min chunked <= 1/3 of one request: {longest[4]:.2f} -> {verdict}"
    )


if __name__ == "__main__":
    asyncio.run(main())
