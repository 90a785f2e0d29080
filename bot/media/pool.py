"""Media work (probe, re-mux/transcode, split, level analysis) in worker processes.

Decoding and encoding run Python-level frame loops (PyAV, numpy): in a thread of the
serving process they hold the GIL between calls into FFmpeg, and every Slack ack waits
its turn (bench/steady.py). In worker processes they never touch the event loop's GIL,
and the serving process never imports PyAV or numpy at all.

The pool is `size` slots, each a one-process `ProcessPoolExecutor`, rather than one
executor of `size` processes, because a running task can only be stopped by killing its
process, and one executor breaks as a whole when any of its processes dies: with one
process per slot, cancelling one job (its budget, shutdown) or a crash while reading one
file fails that job only, and only that slot is rebuilt. Each process handles one task
at a time and streams, so memory per worker stays what one preparation takes.

Processes come from a forkserver that has loaded PyAV and numpy once: a new worker is a
cheap fork of it, never a fork of the threaded serving process.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.errors import UserFacingError

if TYPE_CHECKING:
    from bot.media.types import PreparedAudio

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Loaded once by the forkserver, so that every worker forked from it starts warm.
_PRELOAD = ["bot.media.prepare", "bot.media.split"]
#: Workers run at a lower CPU priority: where media work and the event loop want the same
#: core, the scheduler serves the loop (acks, posting) first; transcripts wait a little.
WORKER_NICENESS = 10
#: A worker checks this often that the process owning the pool is alive (see _start_worker).
_OWNER_CHECK_S = 1.0
#: How long to wait for a killed worker to be gone before its files are removed.
_KILL_WAIT_S = 5.0


class MediaWorkerCrashedError(UserFacingError):
    """The process preparing this file died (FFmpeg crashed on it, or it was killed)."""

    reason = "media_worker_crashed"


MEDIA_WORKER_CRASHED = (
    "The process reading this file crashed, so I couldn't prepare its audio. The file may "
    "be damaged: export it again from the app that recorded it and share the new file, or "
    "mention me in this thread to try again."
)


def default_workers() -> int:
    """SCRIBE_MEDIA_WORKERS' default: one worker per core."""
    return os.cpu_count() or 1


class _Slot:
    """One worker process, built when first needed and rebuilt after it dies."""

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self._context = context
        self._executor: ProcessPoolExecutor | None = None

    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=self._context,
                initializer=_start_worker,
                initargs=(WORKER_NICENESS, os.getpid()),
            )
        return self._executor

    def pids(self) -> list[int]:
        # ProcessPoolExecutor keeps its processes by pid; no public accessor exists.
        processes = getattr(self._executor, "_processes", None) or {}
        return [pid for pid, p in processes.items() if p.is_alive()]

    def kill(self) -> None:
        """Stop the running task now (SIGKILL) and drop the executor; the next use rebuilds."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for process in processes:
            with contextlib.suppress(ProcessLookupError, OSError, ValueError):
                process.kill()
        for process in processes:
            with contextlib.suppress(ValueError, AssertionError):
                process.join(_KILL_WAIT_S)
        executor.shutdown(wait=False, cancel_futures=True)

    def discard(self) -> None:
        """Drop a broken executor (its process is already gone)."""
        self.kill()

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class MediaPool:
    """A bounded pool of media worker processes (SCRIBE_MEDIA_WORKERS).

    `run` awaits a picklable function in a free worker. Cancelling the await kills that
    worker (the work stops at once; the caller's temporary directory then removes its
    files); a worker that dies mid-task raises `MediaWorkerCrashedError` and is replaced.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a media pool needs at least one worker")
        self.size = size
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        self._slots = [_Slot(context) for _ in range(size)]
        self._idle: asyncio.Queue[_Slot] | None = None
        self._closed = False

    def _queue(self) -> asyncio.Queue[_Slot]:
        if self._idle is None:  # bound to the running loop on first use
            self._idle = asyncio.Queue()
            for slot in self._slots:
                self._idle.put_nowait(slot)
        return self._idle

    def worker_pids(self) -> list[int]:
        """The live worker processes (for tests and diagnostics)."""
        return [pid for slot in self._slots for pid in slot.pids()]

    async def start(self) -> None:
        """Start every worker now (in a thread: the forkserver's start-up blocks)."""
        await asyncio.gather(*(self.run(os.getpid) for _ in range(self.size)))

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise RuntimeError("the media pool is closed")
        idle = self._queue()
        slot = await idle.get()
        try:
            executor = slot.executor()
            # Submitting may start the process (and the forkserver): keep that off the loop.
            submitting = asyncio.ensure_future(
                asyncio.to_thread(executor.submit, fn, *args, **kwargs)
            )
            try:
                future = await asyncio.shield(submitting)
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                # Let a submit in flight finish, so that the kill finds its process.
                await asyncio.wait([submitting])
                slot.kill()
                raise
            except BrokenProcessPool as exc:
                slot.discard()
                logger.error("a media worker died while working on a file")
                raise MediaWorkerCrashedError(MEDIA_WORKER_CRASHED) from exc
        finally:
            idle.put_nowait(slot)

    async def prepare_audio(self, src: Path, workdir: Path, *, max_minutes: float) -> PreparedAudio:
        """`bot.media.prepare.prepare_audio` in a worker."""
        return await self.run(_prepare_audio, src, workdir, max_minutes)

    async def split_audio(
        self, audio: PreparedAudio, workdir: Path, *, chunk_s: float
    ) -> list[PreparedAudio]:
        """`bot.media.split.split_audio` in a worker."""
        return await self.run(_split_audio, audio, workdir, chunk_s)

    def close(self) -> None:
        """Stop every worker; a task still running is killed (its job resumes on restart)."""
        self._closed = True
        for slot in self._slots:
            slot.kill()


# --- the pool of the running job (for code that is handed no pool) ------------------------

_current: contextvars.ContextVar[MediaPool | None] = contextvars.ContextVar(
    "media_pool", default=None
)


@contextlib.contextmanager
def using(pool: MediaPool | None) -> Iterator[None]:
    """Make `pool` the one `split_audio` uses in this job (and the tasks it starts)."""
    token = _current.set(pool)
    try:
        yield
    finally:
        _current.reset(token)


async def split_audio(
    audio: PreparedAudio, workdir: Path, *, chunk_s: float
) -> list[PreparedAudio]:
    """Split in the job's media pool, or in a thread where there is none (the CLI)."""
    pool = _current.get()
    if pool is not None:
        return await pool.split_audio(audio, workdir, chunk_s=chunk_s)
    return await asyncio.to_thread(_split_audio, audio, workdir, chunk_s)


# --- what runs in the workers (module-level, so they pickle by name) ----------------------


def _start_worker(niceness: int, owner: int) -> None:
    """Lower the worker's priority, and end it when the owner dies.

    A worker of a `kill -9`ed owner would otherwise wait forever on its task queue (it
    holds both ends), and keep the forkserver alive with it.
    """
    os.nice(niceness)
    threading.Thread(target=_exit_with, args=(owner,), name="owner-watch", daemon=True).start()


def _exit_with(owner: int) -> None:
    status = Path(f"/proc/{owner}/stat")
    while True:
        time.sleep(_OWNER_CHECK_S)
        try:
            # The state follows the command name in parentheses; Z: dead, not yet reaped.
            gone = status.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except (OSError, IndexError):
            gone = True
        if gone:
            os._exit(1)


def _prepare_audio(src: Path, workdir: Path, max_minutes: float) -> PreparedAudio:
    from bot.media.prepare import prepare_audio

    return prepare_audio(src, workdir, max_minutes=max_minutes)


def _split_audio(audio: PreparedAudio, workdir: Path, chunk_s: float) -> list[PreparedAudio]:
    from bot.media.split import split_audio

    return split_audio(audio, workdir, chunk_s=chunk_s)
