"""The `/transcribe` slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.commands import USAGE, parse_command
from bot.intake import Intake

HELP = (
    "*slack-scribe* transcribes audio and video shared in Slack with Gemini and answers in "
    "the file's thread with a summary and a speaker-labelled, timestamped transcript.\n"
    "• `/transcribe` — the latest recording here (or in this thread) without a transcript\n"
    "• `/transcribe <message link or file link>` — that message's or file's recording\n"
    "• `/transcribe auto on|off` — transcribe every clip shared in this channel, or only on request\n"
    "• `/transcribe language <code>|auto` — the language people speak here (e.g. `de`)\n"
    "• `/transcribe translate <code>|off` — translate segments into this language\n"
    "• the *Transcribe* message shortcut, or mention me in a recording's thread; "
    "mention me with a question in a transcribed thread to ask about the recording."
)


def register(app: AsyncApp, intake: Intake, command_name: str) -> None:
    @app.command(command_name)
    async def on_transcribe(ack: AsyncAck, command: dict[str, Any]) -> None:
        channel = str(command.get("channel_id") or "")
        user = str(command.get("user_id") or "")
        parsed = parse_command(str(command.get("text") or ""))
        if parsed.action == "help":
            await ack(text=HELP + "\n\n" + await intake.describe_channel(channel))
        elif parsed.action in ("auto", "language", "translate"):
            await intake.apply_setting(channel, parsed)
            await ack(text="Saved. " + await intake.describe_channel(channel))
        elif parsed.action == "latest":
            await intake.locate(
                channel_id=channel, user_id=user, request_id=str(command.get("trigger_id") or "")
            )
            await ack(text="Looking for the latest recording here without a transcript…")
        elif parsed.action == "message" and parsed.message is not None:
            link = parsed.message
            await intake.locate(
                channel_id=link.channel_id,
                user_id=user,
                request_id=str(command.get("trigger_id") or link.ts),
                thread_ts=link.thread_ts or "",
                message_ts=link.ts,
            )
            await ack(text="On it: I'll transcribe that message's recording in its thread.")
        elif parsed.action == "file" and isinstance(parsed.value, str):
            await intake.request_file(channel_id=channel, file_id=parsed.value, user_id=user)
            await ack(text="On it: I'll transcribe that file in the thread where it was shared.")
        else:
            await ack(text=USAGE)
