"""The seam between a job and a speech-to-text backend (Gemini today; a fake in tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.gemini.config import RequestKind, Usage

if TYPE_CHECKING:
    from bot.media.types import PreparedAudio
    from bot.transcript.model import Transcript


class Transcriber(Protocol):
    """What the pipeline asks of a backend: transcripts, a roster, plain-text answers and
    translations of stored transcripts."""

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

    async def translate(
        self, transcript: Transcript, target: str, usage: Usage | None = None
    ) -> Transcript:
        """`transcript` with every segment not in `target` translated into it (`translation`),
        the summary, key points and action items in `target`; speakers, timestamps and
        content unchanged."""

    async def aclose(self) -> None:
        """Release the backend's connections."""
