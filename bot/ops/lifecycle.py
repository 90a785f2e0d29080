"""What every long-running process of the app shares: how it stops, what its logs hide."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.settings import Settings

logger = logging.getLogger("slack-scribe")


def secrets_of(settings: Settings) -> list[str]:
    """The values the logs must never show."""
    values = (
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.gemini_api_key,
    )
    return [v.get_secret_value() for v in values if v is not None]


async def wait_for_signal() -> None:
    """Block until SIGTERM (Heroku's stop) or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("stopping: finishing running jobs, leaving the rest queued")
