"""Gemini's HTTP errors as failures people can act on (rate limits, keys, models, outages)."""

from __future__ import annotations

import logging

from bot.errors import GeminiUnavailableError, TranscriptionError

logger = logging.getLogger(__name__)


def error_from_status(status: int, detail: str) -> TranscriptionError:
    """Gemini's HTTP error (after the SDK's retries) as a message people can act on."""
    logger.warning("Gemini answered HTTP %s: %s", status, detail[:300])
    if status == 429:
        return GeminiUnavailableError(
            "Gemini is rate-limiting this app right now (HTTP 429), even after retries. "
            "Try again in a few minutes (mention me in this thread).",
            reason="gemini_rate_limited",
        )
    if status in (401, 403) and "API key" in detail:
        return TranscriptionError(
            "Gemini rejected this app's API key. Ask the app's admin to check GEMINI_API_KEY.",
            reason="gemini_auth",
        )
    if status == 400 and "API key" in detail:
        return TranscriptionError(
            "Gemini rejected this app's API key. Ask the app's admin to check GEMINI_API_KEY.",
            reason="gemini_auth",
        )
    if status == 404:
        return TranscriptionError(
            "The configured Gemini model was not found. Ask the app's admin to check GEMINI_MODEL.",
            reason="gemini_model",
        )
    if status >= 500 or status in (408, 409):
        return GeminiUnavailableError(
            f"Gemini is having trouble right now (HTTP {status}), even after retries. "
            "Try again in a few minutes (mention me in this thread).",
            reason="gemini_unavailable",
        )
    return TranscriptionError(
        f"Gemini refused the request (HTTP {status}). If this keeps happening, tell the "
        "app's admin.",
        reason="gemini_rejected",
    )
