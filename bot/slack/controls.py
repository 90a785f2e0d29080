"""The transcript's buttons and menus (download, translate, rename speakers) and Retry.

Handlers call these methods while Slack waits for its answer: each is fast (a store
read, a journal write, or `views.open`, which must happen within the trigger's 3 s).
The work itself runs in jobs (`bot.jobs.transcript_actions`).
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.queue.base import JobQueue
from bot.store.base import Store


class TranscriptControls:
    def __init__(self, *, queue: JobQueue, store: Store, slack: AsyncWebClient) -> None:
        self.queue = queue
        self.store = store
        self.slack = slack
