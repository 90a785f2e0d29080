"""Event listeners: messages (shared files, DMs, deletions), mentions, and file_shared."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.slack.commands import strip_mention
from bot.slack.files import media_files
from bot.slack.intake import Intake
from bot.slack.removal import Removal, deleted_message


def register(app: AsyncApp, intake: Intake, removal: Removal) -> None:
    @app.event("message")
    async def on_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
        # Every message subtype lands here (edits and deletions too, so Slack does not
        # retry them). A deleted message may take its transcript with it; the intake
        # decides what else deserves work.
        if deleted_message(event) is not None:
            await removal.message_deleted(event, team_id=context.team_id or "")
            return
        await intake.message(event, team_id=context.team_id or "", bot_user_id=context.bot_user_id)

    @app.event("file_shared")
    async def on_file_shared() -> None:
        # The `message` event of the same share carries everything (who shared it, where,
        # whether a bot did), so this one is only acknowledged. Kept for apps whose
        # manifest still subscribes to it.
        return None

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if intake.ignored(event, context.bot_user_id):
            return
        channel = str(event.get("channel") or "")
        ts = str(event.get("ts") or "")
        thread_ts = str(event.get("thread_ts") or ts)
        user = str(event.get("user") or "")
        team = context.team_id or ""
        if media_files(event.get("files")):
            await intake.request_message(
                channel_id=channel, message=event, user_id=user, team_id=team
            )
            return
        text = strip_mention(str(event.get("text") or ""), context.bot_user_id)
        if text and await intake.has_transcript(channel, thread_ts):
            await intake.question(
                channel_id=channel,
                thread_ts=thread_ts,
                message_ts=ts,
                user_id=user,
                text=text,
                team_id=team,
            )
            return
        # Which recording is meant needs the Web API: that runs after the ack.
        await intake.locate(
            channel_id=channel,
            user_id=user,
            request_id=ts,
            team_id=team,
            thread_ts=thread_ts,
            question=text or None,
        )
