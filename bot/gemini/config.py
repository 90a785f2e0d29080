"""Gemini's settings, request kinds and token counts: plain data, no SDK import.

A web-only process (`serve` in Redis mode) uses these without loading the Gemini SDK
(bench/memory.py measures what that saves).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from bot.settings import Settings

RequestKind = Literal["transcription", "roster", "summary", "question", "translation"]


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
