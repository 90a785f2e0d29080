"""Privacy: transcripts, thread links and finished job records go after SCRIBE_RETENTION_DAYS.

Every process that runs jobs purges at start and then hourly; with several
processes on one Redis the purges overlap harmlessly (deleting is idempotent).
"""

from __future__ import annotations

import asyncio
import logging

from bot.store.base import Store

logger = logging.getLogger(__name__)

#: Hourly is far finer than a retention measured in days, and costs one indexed query.
PURGE_EVERY_S = 3600.0


async def purge_periodically(
    store: Store, retention_days: float, *, every_s: float = PURGE_EVERY_S
) -> None:
    """Delete what is older than the retention period now and every `every_s`, until cancelled."""
    while True:
        try:
            removed = await store.purge(retention_days * 86400.0)
        except Exception:
            logger.exception("retention purge failed; next try in %.0f s", every_s)
        else:
            if removed:
                logger.info(
                    "retention: deleted %d record(s) older than %g days", removed, retention_days
                )
        await asyncio.sleep(every_s)
