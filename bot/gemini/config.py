"""The pipeline's view of a speech-to-text backend, and Gemini's settings and usage counts.

Nothing here imports the Gemini SDK or PyAV: a web-only process (`serve` in Redis mode)
never loads them, and an embedded `serve` loads them with its first job
(`LazyGeminiTranscriber`). Measured by bench/memory.py.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from bot.gemini.client import GeminiTranscriber
    from bot.media.types import PreparedAudio
    from bot.settings import Settings
    from bot.transcript.model import Transcript

RequestKind = Literal["transcription", "roster", "summary", "question"]


@dataclass(frozen=True)
class GeminiConfig:
    api_key: str
    model: str
    api_version: str = "v1beta"
    base_url: str | None = None
    timeout_s: float = 600.0
    inline_limit_bytes: int = 20 * 1024 * 1024
    #: Total time one transcription may spend on retries and waiting for Gemini.
    budget_s: float = 1800.0
    attempts: int = 5
    initial_delay_s: float = 1.0
    max_delay_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> GeminiConfig:
        key = settings.gemini_api_key.get_secret_value() if settings.gemini_api_key else ""
        return cls(
            api_key=key,
            model=settings.gemini_model,
            api_version=settings.gemini_api_version,
            base_url=settings.gemini_base_url,
            timeout_s=settings.scribe_gemini_timeout_s,
            inline_limit_bytes=settings.inline_limit_bytes,
            budget_s=settings.scribe_job_budget_s,
            attempts=settings.scribe_gemini_attempts,
            initial_delay_s=settings.scribe_gemini_initial_delay_s,
        )


@dataclass
class Usage:
    """Token counts summed over the requests of one job."""

    input_tokens: int = 0
    #: The answers' tokens, without thinking (Interactions' total_output_tokens).
    output_tokens: int = 0
    #: Thinking tokens (total_thought_tokens); Gemini bills them as output.
    thought_tokens: int = 0
    requests: int = 0
    uploads: list[str] = field(default_factory=list)

    @property
    def billable_output_tokens(self) -> int:
        """Output tokens as Gemini bills them: the answers plus the thinking."""
        return self.output_tokens + self.thought_tokens

    def add(self, interaction: Any) -> None:
        self.requests += 1
        usage = getattr(interaction, "usage", None)
        if usage is not None:
            self.input_tokens += int(getattr(usage, "total_input_tokens", 0) or 0)
            self.output_tokens += int(getattr(usage, "total_output_tokens", 0) or 0)
            self.thought_tokens += int(getattr(usage, "total_thought_tokens", 0) or 0)


class Transcriber(Protocol):
    """What the pipeline asks of a backend: transcripts, a roster, and plain-text answers."""

    @property
    def model(self) -> str: ...

    async def transcribe(
        self, audio: PreparedAudio, prompt: str, usage: Usage | None = None
    ) -> Transcript: ...

    async def list_speakers(
        self, audio: PreparedAudio, prompt: str, usage: Usage | None = None
    ) -> list[str]: ...

    async def ask_text(
        self, prompt: str, usage: Usage | None = None, *, kind: RequestKind = "question"
    ) -> str: ...


class LazyGeminiTranscriber:
    """`Transcriber` on Gemini, with the SDK client built on the first request."""

    def __init__(self, config: GeminiConfig, *, concurrency: int) -> None:
        self._config = config
        self._concurrency = concurrency
        self._built: GeminiTranscriber | None = None
        self._closers: list[Any] = []

    @property
    def model(self) -> str:
        return self._config.model

    async def _get(self) -> GeminiTranscriber:
        if self._built is None:
            # The SDK (~45 MB, ~0.5 s of imports) loads in a thread: done on the event
            # loop it would hold every Slack ack waiting behind it.
            gemini = await asyncio.to_thread(importlib.import_module, "bot.gemini.client")
            if self._built is None:  # another request may have built it meanwhile
                client = gemini.build_client(self._config)
                self._closers.append(client.aio.aclose)
                self._built = gemini.GeminiTranscriber(
                    client, self._config, concurrency=asyncio.Semaphore(self._concurrency)
                )
        return self._built

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

    async def aclose(self) -> None:
        for close in self._closers:
            await close()
        self._closers.clear()
