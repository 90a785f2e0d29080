"""The App Home tab: what the bot does, how to ask, and the defaults."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.intake import Intake
from handlers.commands import HELP


def home_view(intake: Intake) -> dict[str, Any]:
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "slack-scribe"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": HELP}},
            {"type": "divider"},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": intake.describe_defaults()
                    + " Each channel can change them with `/transcribe auto|language|translate`; "
                    "`/transcribe help` there shows its current settings.",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Invite me to a channel with `/invite @slack-scribe`. "
                        "Replies go in the thread of the message that shared the recording.",
                    }
                ],
            },
        ],
    }


def register(app: AsyncApp, intake: Intake) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        await client.views_publish(user_id=str(event.get("user") or ""), view=home_view(intake))
