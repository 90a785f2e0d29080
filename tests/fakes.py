"""A fake `Transcriber` for tests where Gemini's wire is not the point (after llm's fake model).

`enqueue()` the answers it should give; `history` records every call. An empty queue
answers with a one-segment transcript, so a test only scripts what it cares about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.gemini.config import RequestKind, Usage
from bot.media.types import PreparedAudio
from bot.transcript.model import Segment, Transcript


@dataclass
class Call:
    method: str
    prompt: str
    audio_s: float | None = None
    kind: RequestKind | None = None


@dataclass
class FakeTranscriber:
    model: str = "fake-model"
    answers: list[Any] = field(default_factory=list)
    history: list[Call] = field(default_factory=list)
    closed: bool = False

    def enqueue(self, *answers: Transcript | list[str] | str | Exception) -> None:
        self.answers.extend(answers)

    def _next(self, default: Any) -> Any:
        answer = self.answers.pop(0) if self.answers else default
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def transcribe(
        self, audio: PreparedAudio, prompt: str, usage: Usage | None = None
    ) -> Transcript:
        self.history.append(Call("transcribe", prompt, audio.duration_s))
        default = Transcript(
            summary="A fake summary.",
            segments=[Segment(speaker="Speaker 1", timestamp="00:00", content="Hello.")],
        )
        answer: Transcript = self._next(default)
        return answer

    async def list_speakers(
        self, audio: PreparedAudio, prompt: str, usage: Usage | None = None
    ) -> list[str]:
        self.history.append(Call("list_speakers", prompt, audio.duration_s))
        speakers: list[str] = self._next(["Speaker 1"])
        return speakers

    async def ask_text(
        self, prompt: str, usage: Usage | None = None, *, kind: RequestKind = "question"
    ) -> str:
        self.history.append(Call("ask_text", prompt, kind=kind))
        text: str = self._next("A fake answer.")
        return text

    async def translate(
        self, transcript: Transcript, target: str, usage: Usage | None = None
    ) -> Transcript:
        """Scripted, or each segment's content as `[target] content` (summary likewise)."""
        self.history.append(Call("translate", target))
        default = transcript.model_copy(
            update={
                "summary": f"[{target}] {transcript.summary}",
                "segments": [
                    s.model_copy(update={"translation": f"[{target}] {s.content}"})
                    for s in transcript.segments
                ],
            }
        )
        answer: Transcript = self._next(default)
        return answer

    async def aclose(self) -> None:
        self.closed = True
