"""The "Transcribe" message shortcut: that message's media, into its thread."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.slack.files import media_files
from bot.slack.intake import Intake


def register(app: AsyncApp, intake: Intake, callback_id: str) -> None:
    @app.message_shortcut(callback_id)
    async def on_transcribe_message(
        ack: AsyncAck, shortcut: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        channel = str((shortcut.get("channel") or {}).get("id") or "")
        user = str((shortcut.get("user") or {}).get("id") or "")
        team = str((shortcut.get("team") or {}).get("id") or "")
        message = shortcut.get("message") or {}
        ts = str(message.get("ts") or shortcut.get("message_ts") or "")
        if not media_files(message.get("files")):
            text = (
                "That message has files, but no audio or video to transcribe."
                if message.get("files")
                else "That message has no audio or video to transcribe."
            )
            await respond(text=text, response_type="ephemeral", replace_original=False)
            return
        # The worker checks the bot can read and answer in that conversation (the answer
        # to a shortcut must come back within 3 s), then transcribes whatever is not yet.
        await intake.locate(
            channel_id=channel,
            user_id=user,
            request_id=str(shortcut.get("trigger_id") or ts),
            team_id=team,
            thread_ts=str(message.get("thread_ts") or ""),
            message_ts=ts,
            response_url=str(shortcut.get("response_url") or ""),
        )
