"""`slack-scribe transcribe`'s progress bar on stderr (tqdm), only when it is a terminal.

It is fed by the transcription's progress events (`bot.gemini.progress`), the feed of
the Slack status message too: one line per file with the current step (preparing audio,
uploading audio when it is sent as a file, transcribing, combining), parts done of total,
the elapsed time and an estimate of the time left. In a pipe or a log file it writes
nothing: the output stays clean for scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from tqdm import tqdm

from bot.gemini.progress import Progress

#: One line: `memo.m4a: transcribing |####      | 2/4 parts, 00:42 elapsed, ~00:40 left`.
BAR_FORMAT = "{desc} |{bar}| {parts}{elapsed} elapsed{left}"
#: The elapsed time ticks while a long request runs.
_REDRAW_S = 0.5
#: Longer file names are cut, so that the estimate at the end of the line fits.
_LABEL_MAX = 20


if TYPE_CHECKING:
    _Tqdm = tqdm[NoReturn]  # generic in its stubs only
else:
    _Tqdm = tqdm


class _Line(_Tqdm):
    """tqdm with our two fields: parts done of total, and the time left for the rest."""

    monitor_interval = 0  # no monitor thread: we redraw from the event loop
    #: When the parts started (time.monotonic()), for the estimate.
    parts_since: float | None = None

    @property
    def format_dict(self) -> MutableMapping[str, Any]:
        d = super().format_dict
        n, total = d["n"], d["total"]
        d["parts"] = f"{n}/{total} parts, " if total else ""
        d["left"] = ""
        if total and 0 < n < total and self.parts_since is not None:
            # The time the parts have taken so far, not the preparation's.
            per_part = (time.monotonic() - self.parts_since) / n
            d["left"] = f", ~{self.format_interval(per_part * (total - n))} left"
        return d


# One process draws: a thread lock, not tqdm's default multiprocessing one.
_Line.set_lock(threading.RLock())


class ProgressBar:
    """One bar per file: `start`, `prepared`, then `on_progress` (an `OnProgress`)."""

    def __init__(self, stream: TextIO, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._line: _Line | None = None
        self._label = ""
        self._prepared = False
        self._uploading: Callable[[], bool] = lambda: False
        self._event: Progress | None = None
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
        """A new file: a new bar, preparing its audio."""
        self.clear()
        short = label if len(label) <= _LABEL_MAX else label[: _LABEL_MAX - 1] + "…"
        self._label, self._prepared, self._event = short, False, None
        self._uploading = lambda: False
        if self.enabled:
            ncols, nrows = _size(self.stream)
            self._line = _Line(
                file=self.stream,
                desc=self._description(),
                bar_format=BAR_FORMAT,
                leave=False,
                ncols=ncols,
                nrows=nrows,
            )

    def prepared(self, *, uploading: Callable[[], bool]) -> None:
        """The audio is ready; `uploading()` says whether its upload is still under way."""
        self._prepared, self._uploading = True, uploading
        self._draw()

    def on_progress(self, event: Progress) -> None:
        """The transcription's progress: parts done of total, or combining them."""
        if self._line is not None and event.done == 0:
            self._line.parts_since = time.monotonic()
        self._event = event
        self._draw()

    def clear(self) -> None:
        """Erase the bar (before an error message, output on stdout, or the end)."""
        if self._line is not None:
            self._line.close()
            self._line = None

    def note(self, text: str) -> None:
        """A line that stays (e.g. a summary), printed above the bar."""
        if not self.enabled:
            return
        if self._line is not None:
            self._line.clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        self._draw()

    def _description(self) -> str:
        event = self._event
        if not self._prepared:
            step = "preparing audio"
        elif event is None or (event.total == 1 and event.done == 0):
            # The whole recording is uploaded before its single part's request (a chunked
            # one's parts are uploaded one by one, while they are transcribed).
            step = "uploading audio" if self._uploading() else "transcribing"
        else:
            step = event.stage
        return f"{self._label}: {step}"

    def _draw(self) -> None:
        line = self._line
        if line is None:
            return
        line.ncols, line.nrows = _size(self.stream)  # the terminal may have been resized
        line.set_description_str(self._description(), refresh=False)
        if self._event is not None:
            line.total, line.n = self._event.total, self._event.done
        line.refresh()

    async def _redraw_forever(self) -> None:
        while True:
            await asyncio.sleep(_REDRAW_S)
            self._draw()


def _size(stream: TextIO) -> tuple[int, int]:
    """The line's width (one less than the terminal's, so it never wraps) and the rows.

    80×24 when the terminal reports none: tqdm would take a fresh pty's 0×0 as no room.
    """
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):  # not a real terminal (io.UnsupportedOperation is both)
        return 79, 24
    return (size.columns or 80) - 1, size.lines or 24
