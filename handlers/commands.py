"""The `/transcribe` slash command: answered at once; any lookup runs after the ack."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack.commands import USAGE, is_other_workspace, parse_command
from bot.slack.intake import Intake

HELP = (
    "*slack-scribe* transcribes audio and video shared in Slack with Gemini and answers in "
    "the file's thread with a summary and a speaker-labelled, timestamped transcript.\n"
    "• `/transcribe` — the latest recording in this channel without a transcript (in a thread, mention me)\n"
    "• `/transcribe <message link or file link>` — that message's or file's recording; add "
    "`language <code>` and/or `translate <code>` for this request only (asked again with "
    "other options, the transcript is made again and replaced in place)\n"
    "• `/transcribe auto on|off` — transcribe every clip shared in this channel, or only on "
    "request\n"
    "• `/transcribe language <code>|auto` — the language people speak here (e.g. `de`)\n"
    "• `/transcribe translate <code>|off` — translate the transcript into this language\n"
    "  (these three settings are changed by workspace admins and owners and the app's admins)\n"
    "• `/transcribe vocabulary add <term> …|remove <term>|list` — names and terms Gemini should "
    'spell your way here (quote terms of several words: `add Kubernetes "Ana Lucía"`)\n'
    "• `/transcribe help` — this message\n"
    "• the *Transcribe* message shortcut (⋮ on a message) — that message's recording\n"
    "• mention me in a recording's thread to transcribe it; mention me with a question in a "
    "transcribed thread to ask about the recording\n"
    "• send me a voice note or a recording directly and I'll transcribe it in our DM"
)


def register(app: AsyncApp, intake: Intake, command_name: str) -> None:
    @app.command(command_name)
    async def on_transcribe(ack: AsyncAck, command: dict[str, Any]) -> None:
        channel = str(command.get("channel_id") or "")
        user = str(command.get("user_id") or "")
        team = str(command.get("team_id") or "")
        request_id = str(command.get("trigger_id") or "")
        response_url = str(command.get("response_url") or "")
        parsed = parse_command(str(command.get("text") or ""))

        async def answer(text: str) -> None:
            await ack(text=text, response_type="ephemeral")

        if parsed.link_host and is_other_workspace(
            parsed.link_host, str(command.get("team_domain") or "")
        ):
            await answer(
                f"That link is to another workspace ({parsed.link_host}). I can only "
                "transcribe recordings in this one: share the recording here, or use the "
                "slack-scribe installed in that workspace."
            )
        elif parsed.action == "help":
            await answer(HELP + "\n\n" + await intake.describe_channel(channel))
        elif parsed.action in ("auto", "language", "translate"):
            # Admins only; the check may ask Slack (bounded, cached: bot.slack.permissions).
            await answer(await intake.apply_setting(channel, parsed, user))
        elif parsed.action == "vocabulary":
            await answer(await intake.vocabulary(channel, parsed))
        elif parsed.action == "latest":
            await intake.locate(
                channel_id=channel,
                user_id=user,
                request_id=request_id,
                team_id=team,
                thread_ts=str(command.get("thread_ts") or ""),
                response_url=response_url,
            )
            await answer("Looking for the latest recording here without a transcript…")
        elif parsed.action == "message" and parsed.message is not None:
            link = parsed.message
            await intake.locate(
                channel_id=link.channel_id,
                user_id=user,
                request_id=request_id or link.ts,
                team_id=team,
                thread_ts=link.thread_ts or "",
                message_ts=link.ts,
                response_url=response_url,
                language=parsed.language,
                translate_to=parsed.translate_to,
            )
            await answer("On it: I'll transcribe that message's recording in its thread.")
        elif parsed.action == "file" and isinstance(parsed.value, str):
            await intake.locate(
                channel_id=channel,
                user_id=user,
                request_id=request_id or parsed.value,
                team_id=team,
                file_id=parsed.value,
                response_url=response_url,
                language=parsed.language,
                translate_to=parsed.translate_to,
            )
            await answer("On it: I'll transcribe that file in the thread where it was shared.")
        else:
            hint = f"{parsed.value} " if isinstance(parsed.value, str) else ""
            await answer(hint + USAGE)
