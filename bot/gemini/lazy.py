"""`Transcriber` on Gemini whose SDK client is built on the first request.

The SDK is ~45 MB and ~0.5 s of imports: processes that never transcribe (web-only roles)
never load it, and roles that do load it at start-up (`bot.app.load_job_code`).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING, Any

from bot.gemini.config import GeminiConfig, RequestKind, Usage

if TYPE_CHECKING:
    from bot.gemini.client import GeminiTranscriber
    from bot.media.types import PreparedAudio
    from bot.transcript.model import Transcript


class LazyGeminiTranscriber:
    """`Transcriber` on Gemini, with the SDK client built on the first request."""

    def __init__(self, config: GeminiConfig, *, concurrency: int) -> None:
        self._config = config
        self._concurrency = concurrency
        self._built: GeminiTranscriber | None = None
        self._building = asyncio.Lock()
        self._closers: list[Any] = []

    @property
    def model(self) -> str:
        return self._config.model

    async def _get(self) -> GeminiTranscriber:
        if self._built is None:
            async with self._building:  # one client, however many requests come first
                if self._built is None:
                    self._built = await self._build()
        return self._built

    async def _build(self) -> GeminiTranscriber:
        # The SDK (~45 MB, ~0.5 s of imports) loads, and its client (SSL contexts, ~0.15 s)
        # is built, in a thread: on the event loop they would hold every Slack ack.
        gemini = await asyncio.to_thread(importlib.import_module, "bot.gemini.client")
        client = await asyncio.to_thread(gemini.build_client, self._config)
        self._closers.append(client.aio.aclose)
        return gemini.GeminiTranscriber(  # type: ignore[no-any-return]
            client, self._config, concurrency=asyncio.Semaphore(self._concurrency)
        )

    async def transcribe(
        self, audio: PreparedAudio, prompt: str, usage: Usage | None = None
    ) -> Transcript:
        return await (await self._get()).transcribe(audio, prompt, usage)

    async def list_speakers(
        self, audio: PreparedAudio, prompt: str, usage: Usage | None = None
    ) -> list[str]:
        return await (await self._get()).list_speakers(audio, prompt, usage)

    async def ask_text(
        self, prompt: str, usage: Usage | None = None, *, kind: RequestKind = "question"
    ) -> str:
        return await (await self._get()).ask_text(prompt, usage, kind=kind)

    async def translate(
        self, transcript: Transcript, target: str, usage: Usage | None = None
    ) -> Transcript:
        return await (await self._get()).translate(transcript, target, usage)

    async def aclose(self) -> None:
        for close in self._closers:
            await close()
        self._closers.clear()
