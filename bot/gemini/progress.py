"""Progress of one recording's transcription, as plain events.

The Slack status message (`bot.jobs.status`) and the command line's progress bar
(`bot.ops.progress`) are fed by the same events, so they cannot tell different stories.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Stage = Literal["transcribing", "combining"]


@dataclass(frozen=True)
class Progress:
    """`done` of `total` parts have their transcript; `combining`: all parts are in."""

    stage: Stage
    done: int
    total: int


#: Called on the event loop after each step; it must return at once (no I/O).
OnProgress = Callable[[Progress], None]


def ignore_progress(_event: Progress) -> None:
    """The listener of callers that show no progress."""
