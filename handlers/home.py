"""The App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.intake import Intake
from handlers.commands import HELP


def register(app: AsyncApp, intake: Intake) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        auto = "on" if intake.config.auto_transcribe else "off"
        await client.views_publish(
            user_id=str(event.get("user") or ""),
            view={
                "type": "home",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "slack-scribe"}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": HELP}},
                    {
                        "type": "context",
                        "elements": [
                            {
                                "type": "mrkdwn",
                                "text": f"Default for channels: automatic transcription *{auto}*. "
                                "Each channel can change it with `/transcribe auto on|off`.",
                            }
                        ],
                    },
                ],
            },
        )
