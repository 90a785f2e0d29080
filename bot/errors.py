"""Errors that end a job with a message people in Slack can act on.

Anything raised as a `UserFacingError` is posted in the thread after `:warning:`;
anything else is a bug of ours, logged with its traceback, and the user gets a
generic apology with the job id.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """A failure the user caused or can fix; `str(self)` is the Slack message (plain text)."""

    #: Short machine-readable reason, used as a metric label.
    reason: str = "user_error"
    #: Whether retrying the same job later might succeed (e.g. Gemini overloaded).
    transient: bool = False

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


#: The `reason` of a video without sound: shared silently (screen recordings) it is no failure.
NO_SOUND_TRACK = "no_sound_track"


class NotMediaError(UserFacingError):
    """The file has no audio track or is not audio/video at all."""

    reason = "not_media"


class TooLargeError(UserFacingError):
    reason = "too_large"


class TooLongError(UserFacingError):
    reason = "too_long"


class CorruptMediaError(UserFacingError):
    reason = "corrupt"


class SilentMediaError(UserFacingError):
    reason = "silent"


class FileAccessError(UserFacingError):
    """The bot cannot see or download the file."""

    reason = "file_access"


class TranscriptionError(UserFacingError):
    """Gemini could not produce a usable transcript."""

    reason = "transcription"


class TruncatedAnswerError(TranscriptionError):
    """Gemini stopped before the JSON was complete (output limit); chunking may help."""

    reason = "truncated"


class PartialDeliveryError(UserFacingError):
    """Some parts of a transcript are in the thread, the rest could not be posted."""

    reason = "partial_delivery"
    transient = True


class GeminiUnavailableError(TranscriptionError):
    """Gemini is down, overloaded or rate-limited beyond the retry budget."""

    reason = "gemini_unavailable"
    transient = True
