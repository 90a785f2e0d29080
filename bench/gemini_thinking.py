"""Thinking-level benchmark: tokens and latency of each request kind at each thinking_level.

Run: `python bench/gemini_thinking.py` (options: `--minutes N`, `--levels L ...`,
`--latency S`, `--tokens-per-s N`). Takes ~2 min with the defaults.

Method
------
- Gemini: the emulator in tests/emulators/gemini.py over real HTTP with the real
  google-genai client and `bot.gemini.client.GeminiTranscriber`, built like bot/app.py does.
  Its usage model: input = 32 tokens per second of audio + prompt characters / 4;
  output = answer characters / 4; thought tokens = a fixed part plus a share of the
  output per thinking_level (the emulator's THINKING_MODEL: minimal 0, low 128 + 10 %,
  medium 512 + 30 %, high 2048 + 60 %, xhigh 8192 + 100 %). That thinking model is
  invented, shaped like Google's description of the levels; it ranks the choices and
  shows where thinking costs most, it does not predict a bill.
- Latency model: every request takes `--latency` s (default 1) plus (output + thought
  tokens) / `--tokens-per-s` (default 150), the same model as bench/long_audio.py.
- Requests, one per kind, each the production call:
  transcription = `transcribe()` on a `--minutes` (default 5) MP3 made by
  tests/media_factory.py (16 kHz mono, 32 kbit/s; the emulator answers one segment
  every 10 s); roster = `list_speakers()` on the same audio; summary =
  `ask_text(summary_prompt(...), kind="summary")` over that transcript; question =
  `ask_text(question_prompt(...))` over it.
- Each kind runs once per level, one request at a time, on one emulator: the emulator
  is deterministic, so one run per cell is enough. A level is forced by setting
  `bot.gemini.client.THINKING_LEVELS[kind]` for the run; the production choice is marked `*`.
- Billable output = output + thought tokens (Gemini bills thinking as output).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from bot.gemini import client as gemini_module  # noqa: E402
from bot.gemini.client import GeminiTranscriber, build_client  # noqa: E402
from bot.gemini.config import (  # noqa: E402
    GeminiConfig,
    RequestKind,
    Usage,
)
from bot.gemini.prompts import (  # noqa: E402
    TranscribeOptions,
    question_prompt,
    roster_prompt,
    summary_prompt,
    transcription_prompt,
)
from bot.media.types import PreparedAudio  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.transcript.exports import to_text  # noqa: E402
from tests.emulators.gemini import THINKING_LEVELS as ALL_LEVELS  # noqa: E402
from tests.emulators.gemini import GeminiEmulator  # noqa: E402
from tests.media_factory import make_audio  # noqa: E402

KINDS: tuple[RequestKind, ...] = ("transcription", "roster", "summary", "question")
QUESTION = "Who agreed to send the budget, and when?"


@dataclass
class Cell:
    kind: RequestKind
    level: str
    usage: Usage
    seconds: float


@contextlib.contextmanager
def forced_level(kind: RequestKind, level: str) -> Iterator[None]:
    """Make `kind` requests think at `level` for one measurement."""
    chosen = gemini_module.THINKING_LEVELS[kind]
    gemini_module.THINKING_LEVELS[kind] = level
    try:
        yield
    finally:
        gemini_module.THINKING_LEVELS[kind] = chosen


def requests_for(
    gemini: GeminiTranscriber, audio: PreparedAudio, transcript_text: str
) -> dict[RequestKind, Callable[[Usage], Awaitable[object]]]:
    """The production call of each request kind."""
    prompt = transcription_prompt(audio.duration_s, TranscribeOptions())
    return {
        "transcription": lambda u: gemini.transcribe(audio, prompt, u),
        "roster": lambda u: gemini.list_speakers(audio, roster_prompt(), u),
        "summary": lambda u: gemini.ask_text(summary_prompt(transcript_text), u, kind="summary"),
        "question": lambda u: gemini.ask_text(question_prompt(QUESTION, transcript_text), u),
    }


async def measure(
    audio: PreparedAudio, levels: list[str], latency_s: float, tokens_per_s: float
) -> list[Cell]:
    emu = GeminiEmulator()
    await emu.start()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, gemini_api_key=SecretStr(emu.api_key), gemini_base_url=emu.base_url
    )
    config = GeminiConfig.from_settings(settings)
    client = build_client(config)
    gemini = GeminiTranscriber(client, config, concurrency=asyncio.Semaphore(4))
    cells: list[Cell] = []
    try:
        # The transcript the text requests work on: made before the clock runs.
        transcript = await gemini.transcribe(
            audio, transcription_prompt(audio.duration_s, TranscribeOptions())
        )
        calls = requests_for(gemini, audio, to_text(transcript))
        emu.latency_s, emu.tokens_per_s = latency_s, tokens_per_s
        for kind in KINDS:
            for level in levels:
                usage = Usage()
                with forced_level(kind, level):
                    started = time.perf_counter()
                    await calls[kind](usage)
                    elapsed = time.perf_counter() - started
                cells.append(Cell(kind, level, usage, elapsed))
                print(f"{kind} at {level}: {elapsed:.1f} s", file=sys.stderr, flush=True)
    finally:
        await client.aio.aclose()
        await emu.close()
    return cells


def print_table(cells: list[Cell]) -> None:
    print("| request | thinking_level | input | output | thought | billable output | latency |")
    print("|---|---|---|---|---|---|---|")
    for c in cells:
        mark = " *" if gemini_module.THINKING_LEVELS[c.kind] == c.level else ""
        u = c.usage
        print(
            f"| {c.kind} | {c.level}{mark} | {u.input_tokens:,} | {u.output_tokens:,} "
            f"| {u.thought_tokens:,} | {u.billable_output_tokens:,} | {c.seconds:.1f} s |"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument(
        "--levels", nargs="+", default=["minimal", "low", "medium", "high"], choices=ALL_LEVELS
    )
    parser.add_argument("--latency", type=float, default=1.0, help="fixed s per request")
    parser.add_argument("--tokens-per-s", type=float, default=150.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scribe-thinking-") as tmp:
        path = await asyncio.to_thread(
            make_audio,
            Path(tmp) / "talk.mp3",
            duration_s=args.minutes * 60,
            sample_rate=16_000,
            bit_rate=32_000,
        )
        audio = PreparedAudio(
            path=path,
            mime_type="audio/mpeg",
            duration_s=args.minutes * 60,
            size_bytes=path.stat().st_size,
        )
        cells = await measure(audio, args.levels, args.latency, args.tokens_per_s)
    print(
        f"\n{args.minutes:g} min of audio; latency model: {args.latency:g} s + "
        f"(output + thought tokens) / {args.tokens_per_s:g} per s; * = production choice\n"
    )
    print_table(cells)


if __name__ == "__main__":
    asyncio.run(main())
