"""A one-line progress bar on stderr for `slack-scribe transcribe`, only when it is a terminal.

In a pipe or a log file it writes nothing: the output stays clean for scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TextIO

#: The steps of one file, in order.
STEPS = ("preparing audio", "uploading audio", "waiting for Gemini")
_SPINNER = "|/-\\"
_REDRAW_S = 0.1
_WIDTH = 24


class ProgressBar:
    """`show()` the current step; a background task redraws it with the elapsed time."""

    def __init__(self, stream: TextIO, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._label = ""
        self._status: Callable[[], tuple[int, str]] = lambda: (0, "")
        self._started = time.monotonic()
        self._ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ProgressBar:
        if self.enabled:
            self._task = asyncio.create_task(self._redraw_forever())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.clear()

    def start(self, label: str) -> None:
        """A new file: the bar starts over."""
        self._label, self._started = label, time.monotonic()
        self.show(0)

    def show(self, step: int, detail: str = "") -> None:
        """Step `step` (an index into STEPS) is running."""
        self.follow(lambda: (step, detail))

    def follow(self, status: Callable[[], tuple[int, str]]) -> None:
        """Ask `status()` for (step, detail) at each redraw, for steps we can only observe."""
        self._status = status
        self._draw()

    def clear(self) -> None:
        """Erase the line (before an error message or the end)."""
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def note(self, text: str) -> None:
        """A line that stays (e.g. a summary), printed above the bar."""
        if self.enabled:
            self.clear()
            self.stream.write(text + "\n")
            self._draw()

    def _draw(self) -> None:
        if not self.enabled or not self._label:
            return
        step, detail = self._status()
        filled = _WIDTH * step // len(STEPS)
        spin = _SPINNER[self._ticks % len(_SPINNER)]
        bar = "#" * filled + spin + "." * (_WIDTH - filled - 1)
        elapsed = time.monotonic() - self._started
        text = f"{STEPS[step]}{' ' + detail if detail else ''}"
        line = f"{self._label} [{bar}] {step + 1}/{len(STEPS)} {text} {elapsed:.0f}s"
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()

    async def _redraw_forever(self) -> None:
        while True:
            await asyncio.sleep(_REDRAW_S)
            self._ticks += 1
            self._draw()
