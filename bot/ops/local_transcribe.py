"""`slack-scribe transcribe FILE…`: the job pipeline on local files, without Slack.

prepare_audio → transcribe_recording → the chosen export on stdout. Progress goes
to stderr when it is a terminal; in pipes only errors do, one line each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.errors import UserFacingError
from bot.gemini.chunked import CHUNK_ABOVE_S, transcribe_recording
from bot.gemini.client import GeminiTranscriber, build_client
from bot.gemini.config import GeminiConfig, Usage
from bot.gemini.prompts import TranscribeOptions
from bot.media.prepare import PreparedAudio, prepare_audio
from bot.ops.progress import ProgressBar
from bot.settings import Settings
from bot.transcript.exports import FORMATS
from bot.transcript.model import Transcript

logger = logging.getLogger(__name__)

#: Formats whose files cannot hold several transcripts one after another.
SINGLE_FILE_FORMATS = ("srt", "vtt")


async def transcribe_files(
    settings: Settings,
    files: Sequence[str],
    *,
    fmt: str,
    language: str | None = None,
    translate_to: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Transcribe each file and print it; 0 when all succeeded, 1 if any failed, 2 on misuse."""
    stdout, stderr = out or sys.stdout, err or sys.stderr
    if fmt not in FORMATS:
        print(f"slack-scribe: unknown format {fmt!r}", file=stderr)
        return 2
    if fmt in SINGLE_FILE_FORMATS and len(files) > 1:
        print(f"slack-scribe: --format {fmt} takes one FILE at a time", file=stderr)
        return 2
    if "scribe_log_level" not in settings.model_fields_set:
        # Routine INFO lines would clutter a terminal or a pipe; ask with SCRIBE_LOG_LEVEL.
        logging.getLogger().setLevel(logging.WARNING)

    config = GeminiConfig.from_settings(settings)
    client = build_client(config)
    gemini = GeminiTranscriber(
        client, config, concurrency=asyncio.Semaphore(settings.scribe_max_concurrency)
    )
    options = TranscribeOptions(language=language, translate_to=translate_to)
    failures = 0
    results: list[tuple[str, str]] = []
    try:
        async with ProgressBar(stderr) as bar:
            for name in files:
                try:
                    transcript, duration_s = await _transcribe_one(
                        gemini, Path(name), settings, options, bar
                    )
                except UserFacingError as exc:
                    failures += 1
                    bar.clear()
                    print(f"slack-scribe: {name}: {' '.join(str(exc).split())}", file=stderr)
                    continue
                except Exception:
                    failures += 1
                    bar.clear()
                    logger.exception("%s: unexpected error (a bug; please report it)", name)
                    continue
                text = FORMATS[fmt](transcript, duration_s=duration_s)
                if len(files) == 1 or fmt == "json":
                    results.append((name, text))
                else:
                    bar.clear()
                    _write_with_heading(stdout, fmt, name, text, first=not results)
                    results.append((name, ""))
    finally:
        await client.aio.aclose()
    if fmt == "json" and len(files) > 1:
        merged = [{"file": name, **json.loads(text)} for name, text in results]
        stdout.write(json.dumps(merged, ensure_ascii=False, indent=2) + "\n")
    elif len(files) == 1 and results:
        stdout.write(results[0][1])
    stdout.flush()
    return 1 if failures else 0


async def _transcribe_one(
    gemini: GeminiTranscriber,
    path: Path,
    settings: Settings,
    options: TranscribeOptions,
    bar: ProgressBar,
) -> tuple[Transcript, float]:
    if not await asyncio.to_thread(path.is_file):
        raise UserFacingError("no such file")
    bar.start(path.name)
    with tempfile.TemporaryDirectory(prefix="scribe-") as tmp:
        workdir = Path(tmp)
        audio: PreparedAudio = await asyncio.to_thread(
            prepare_audio, path, workdir, max_minutes=settings.scribe_max_audio_minutes
        )
        usage = Usage()
        # A recording sent whole goes through the Files API when it is over the inline
        # limit; the transcriber records each upload in `usage` once it is done.
        uploads = (
            audio.size_bytes > settings.inline_limit_bytes and audio.duration_s <= CHUNK_ABOVE_S
        )
        bar.prepared(uploading=lambda: uploads and not usage.uploads)
        transcript, _chunks = await transcribe_recording(
            gemini, audio, workdir, options, usage, on_progress=bar.on_progress
        )
    bar.note(
        f"{path.name}: {audio.duration_s:.0f} s of audio, {usage.requests} Gemini request(s), "
        f"{usage.input_tokens} input / {usage.output_tokens} output + "
        f"{usage.thought_tokens} thinking tokens"
    )
    return transcript, audio.duration_s


def _write_with_heading(stream: TextIO, fmt: str, name: str, text: str, *, first: bool) -> None:
    heading = f"# {name}\n\n" if fmt == "markdown" else f"==> {name} <==\n"
    stream.write(("" if first else "\n") + heading + text)
    stream.flush()
