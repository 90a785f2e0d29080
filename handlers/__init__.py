"""Slack listeners: ack → parse → hand to the intake service → answer.

This is the one place where the command name and callback ids appear.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.controls import TranscriptControls
from bot.slack.intake import Intake
from bot.slack.removal import Removal
from handlers import actions, commands, events, home, removal, shortcuts

SLASH_COMMAND = "/transcribe"
MESSAGE_SHORTCUT = "transcribe_message"


def register_handlers(
    app: AsyncApp, intake: Intake, controls: TranscriptControls, deletion: Removal
) -> None:
    events.register(app, intake, deletion)
    commands.register(app, intake, SLASH_COMMAND)
    shortcuts.register(app, intake, MESSAGE_SHORTCUT)
    home.register(app, intake)
    actions.register(app, controls)
    removal.register(app, deletion)
