"""Event listeners: shared files, mentions."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.commands import strip_mention
from bot.intake import Intake

logger = logging.getLogger(__name__)


def register(app: AsyncApp, intake: Intake) -> None:
    @app.event({"type": "message", "subtype": "file_share"})
    async def on_file_share(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await intake.file_share_message(event, team_id=context.team_id or "")

    @app.event("file_shared")
    async def on_file_shared(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await intake.file_shared(event, team_id=context.team_id or "")

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], context: AsyncBoltContext) -> None:
        channel = str(event.get("channel") or "")
        ts = str(event.get("ts") or "")
        thread_ts = str(event.get("thread_ts") or ts)
        user = str(event.get("user") or "")
        text = strip_mention(str(event.get("text") or ""), context.bot_user_id)
        if event.get("files"):
            await intake.request_message(channel_id=channel, message=event, user_id=user)
            return
        has_transcript = await intake.store.thread_transcript(channel, thread_ts) is not None
        if text and has_transcript:
            await intake.question(
                channel_id=channel, thread_ts=thread_ts, message_ts=ts, user_id=user, text=text
            )
        else:
            await intake.locate(
                channel_id=channel,
                user_id=user,
                request_id=ts,
                thread_ts=thread_ts,
                message_ts=ts,
                question=text or None,
            )

    @app.event("message")
    async def on_other_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
        # Plain messages, edits and deletions: nothing to do, but acknowledged so Slack
        # does not retry them.
        return None
