"""The job process of embedded mode: runs the SQLite journal's jobs for `serve` or `socket`.

`serve` and `socket` start it (`bot.ops.job_process`) and only write jobs to the journal;
this process claims and runs them, with the media worker processes and the Gemini SDK.
Job work (requests built and answers parsed, replies rendered, context gathered) then never
holds the serving process's event loop or GIL while Slack waits for an ack. It reads the
same settings (environment and `.env`) and dies with its parent, however that one ends.

Run only by its supervisor: `python -m bot.jobrunner`.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys

from bot.settings import Settings, SettingsError, load_settings

logger = logging.getLogger("slack-scribe.jobs")

#: The supervisor's pid, so a child started just as its parent died exits at once.
PARENT_ENV = "SCRIBE_JOB_PROCESS_PARENT"
#: Below the serving process in CPU priority: on a busy machine, acks first.
NICENESS = 5
#: linux/prctl.h: deliver a signal to this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Have the kernel SIGKILL this process when its parent dies; False if it already has.

    A job process left behind by a `kill -9`ed `serve` would go on claiming jobs beside
    the next one's (Linux only; elsewhere the parent's exit is noticed by polling).
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    expected = os.environ.get(PARENT_ENV)
    return expected is None or os.getppid() == int(expected)


async def _parent_gone(parent: int) -> None:
    """End at once when the parent is gone (where PR_SET_PDEATHSIG is not there to do it).

    Not gracefully: the next `serve`'s job process resets every running job to queued,
    and two processes running one job would answer it twice. Cut short, it resumes.
    """
    while os.getppid() == parent:  # noqa: ASYNC110 (no event to wait on: a poll)
        await asyncio.sleep(1.0)
    logger.error("serve is gone; the job process ends now (its jobs resume at the next start)")
    os._exit(1)


async def run_jobs(settings: Settings) -> int:
    """Run the journal's jobs until SIGTERM/SIGINT or the parent's end; then stop gracefully."""
    from bot.app import Runtime
    from bot.ops.lifecycle import wait_for_signal

    runtime = await Runtime.create(settings, embedded_jobs="is_job_process")
    try:
        await runtime.start_workers()
        logger.info("running the journal's jobs, %d at a time", settings.scribe_max_concurrency)
        stop = asyncio.create_task(wait_for_signal())
        orphaned = asyncio.create_task(_parent_gone(os.getppid()))
        await asyncio.wait({stop, orphaned}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        orphaned.cancel()
    finally:
        await runtime.close()  # running jobs finish within the grace period
    return 0


def main() -> int:
    if not die_with_parent():
        return 0
    os.nice(NICENESS)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"slack-scribe job process: {exc}", file=sys.stderr)
        return 2
    from bot.ops.lifecycle import secrets_of
    from bot.ops.logs import setup_logging

    setup_logging(settings.scribe_log_level, settings.scribe_log_format, secrets_of(settings))
    return asyncio.run(run_jobs(settings))


if __name__ == "__main__":
    sys.exit(main())
