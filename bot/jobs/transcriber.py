"""The seam between a job and a speech-to-text backend (Gemini today; a fake in tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.gemini.config import RequestKind, Usage

if TYPE_CHECKING:
    from bot.media.types import PreparedAudio
    from bot.transcript.model import Transcript


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

    async def aclose(self) -> None:
        """Release the backend's connections."""
