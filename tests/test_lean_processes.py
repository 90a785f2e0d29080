"""Web-facing code loads neither PyAV, numpy nor the Gemini SDK until a job needs them.

Together they are most of an idle `serve` process's memory (bench/memory.py); a web-only
instance in Redis mode never needs them at all.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("av", "numpy", "google.genai")


def loaded_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return list(json.loads(out.stdout))


def test_the_web_app_and_the_runtime_load_no_media_or_gemini_code() -> None:
    assert loaded_after("import bot.web, bot.app, bot.cli, handlers") == []


def test_the_transcriber_loads_the_sdk_on_its_first_request_only() -> None:
    statement = (
        "from bot.gemini.config import GeminiConfig; from bot.gemini.lazy import LazyGeminiTranscriber; "
        "t = LazyGeminiTranscriber(GeminiConfig(api_key='k', model='m'), concurrency=1); "
        "t.model"
    )
    assert loaded_after(statement) == []
    built = statement + "; import asyncio; asyncio.run(t._get())"
    assert "google.genai" in loaded_after(built)


async def test_concurrent_first_requests_build_one_client() -> None:
    from bot.gemini.config import GeminiConfig
    from bot.gemini.lazy import LazyGeminiTranscriber

    lazy = LazyGeminiTranscriber(GeminiConfig(api_key="k", model="m"), concurrency=1)
    first, second = await asyncio.gather(lazy._get(), lazy._get())
    assert first is second
    assert len(lazy._closers) == 1
    await lazy.aclose()
