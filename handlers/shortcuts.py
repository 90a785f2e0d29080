"""The "Transcribe" message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.intake import Intake


def register(app: AsyncApp, intake: Intake, callback_id: str) -> None:
    @app.message_shortcut(callback_id)
    async def on_transcribe_message(
        ack: AsyncAck, shortcut: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        channel = str((shortcut.get("channel") or {}).get("id") or "")
        user = str((shortcut.get("user") or {}).get("id") or "")
        message = shortcut.get("message") or {}
        created = await intake.request_message(channel_id=channel, message=message, user_id=user)
        if not message.get("files"):
            await respond(
                text="That message has no files to transcribe.", response_type="ephemeral"
            )
        elif created == 0:
            await respond(
                text="That message has no audio or video, or it is already being transcribed.",
                response_type="ephemeral",
            )
