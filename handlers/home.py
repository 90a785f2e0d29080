"""The App Home tab: what the bot does, how to ask, and the defaults.

The tab is published by a Bolt lazy listener, after the ack: the app runs with
`process_before_response=True`, so a listener that awaited `views.publish` would hold
Slack's answer while slack_sdk waits out a 429 (Retry-After), past Slack's 3 s, and
Slack would deliver the event again. Nothing here needs to be journalled first.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.intake import Intake
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


logger = logging.getLogger(__name__)


def register(app: AsyncApp, intake: Intake) -> None:
    async def ack_home_opened(ack: AsyncAck) -> None:
        await ack()

    async def publish_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        try:
            await client.views_publish(user_id=str(event.get("user") or ""), view=home_view(intake))
        except SlackApiError:
            # The tab stays as it was; the next visit publishes it again.
            logger.exception("could not publish the Home tab")

    app.event("app_home_opened")(ack=ack_home_opened, lazy=[publish_home])
