"""Deleting transcripts: the Delete button, and cleanup when the source is deleted.

Who may delete: the person who shared the file, workspace admins and owners, and the
users of SCRIBE_ADMINS. The deletion itself runs in a job (`bot.jobs.removal`).
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.queue.base import JobQueue
from bot.store.base import Store


class Removal:
    def __init__(
        self,
        *,
        queue: JobQueue,
        store: Store,
        slack: AsyncWebClient,
        admins: frozenset[str],
        delete_with_source: bool,
    ) -> None:
        self.queue = queue
        self.store = store
        self.slack = slack
        self.admins = admins
        self.delete_with_source = delete_with_source
