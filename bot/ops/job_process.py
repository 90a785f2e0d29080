"""Starts, watches and stops the job process of embedded mode (`bot.jobrunner`).

The serving process only acks and journals; the job process runs the jobs. If it dies
(a crash, the kernel's OOM killer), it is started again, sooner after a long life than
after a quick death, and /healthz answers 503 while it is down: the journal keeps every
acknowledged job meanwhile, and the new process resumes what was running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time

from bot.jobrunner import PARENT_ENV

logger = logging.getLogger(__name__)

#: Restart delays after a crash: doubling from the first, capped.
FIRST_RESTART_DELAY_S = 1.0
MAX_RESTART_DELAY_S = 30.0
#: A process that ran this long before dying restarts after the first delay again.
HEALTHY_LIFE_S = 60.0


class JobProcess:
    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._grace_s = 25.0
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    async def start(self) -> None:
        self._proc = await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name="job-process-watch")

    def check(self) -> None:
        """Raise unless the job process runs (for /healthz)."""
        if self._proc is None or self._proc.returncode is not None:
            raise RuntimeError("the job process is not running (it is being restarted)")

    async def _spawn(self) -> asyncio.subprocess.Process:
        env = dict(os.environ, **{PARENT_ENV: str(os.getpid())})
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.jobrunner", env=env)
        logger.info("started the job process (pid %d)", proc.pid)
        return proc

    async def _watch(self) -> None:
        delay = FIRST_RESTART_DELAY_S
        while True:
            assert self._proc is not None
            started = time.monotonic()
            code = await self._proc.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= HEALTHY_LIFE_S:
                delay = FIRST_RESTART_DELAY_S
            logger.error("the job process exited with %s; starting it again in %.0f s", code, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return
            delay = min(delay * 2, MAX_RESTART_DELAY_S)
            self.restarts += 1
            self._proc = await self._spawn()
            if self._stopping.is_set():  # stop() began while it was starting
                await _terminate(self._proc, self._grace_s)
                return

    async def stop(self, grace_s: float) -> None:
        """SIGTERM: running jobs finish within `grace_s`; after that (and 5 s) SIGKILL.

        No process is started after this begins, not even one that exits meanwhile (a
        SIGTERM sent to the whole process group reaches it first).
        """
        self._grace_s = grace_s
        self._stopping.set()
        if self._proc is not None:
            await _terminate(self._proc, grace_s)
        if self._watcher is not None:
            await self._watcher  # returns at once now, after stopping what it started


async def _terminate(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace_s + 5.0)
    except TimeoutError:
        logger.warning("the job process did not stop in time; killing it")
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
