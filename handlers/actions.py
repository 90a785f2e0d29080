"""Buttons and menus on transcripts (download, translate, rename speakers) and Retry."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.controls import TranscriptControls


def register(app: AsyncApp, controls: TranscriptControls) -> None:
    """Listeners for the contract's action ids; see handlers/__init__.py."""
