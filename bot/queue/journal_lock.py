"""One consumer per journal: an advisory lock on a file beside the SQLite database.

A consumer resets the journal's `running` jobs to `queued` when it starts (they were
orphaned by a crash). Two consumers of one journal would each run the other's jobs
again: a second `serve` started on the same SCRIBE_DB, or a new job process while the
old one still finishes. So a consumer first takes this lock; the kernel releases it
when its holder ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os


class ConsumerLock:
    def __init__(self, db_path: str) -> None:
        self.path = db_path + ".consumer.lock"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True when this process holds it now."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
