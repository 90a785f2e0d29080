"""The Delete button, and the events that delete transcripts with their source."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.removal import Removal


def register(app: AsyncApp, removal: Removal) -> None:
    """Listeners for transcript_delete and file_deleted; see handlers/__init__.py."""
