"""The Delete button, and the events that delete transcripts with their source."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from bot.slack.controls_render import DELETE_ACTION
from bot.slack.removal import Removal


def register(app: AsyncApp, removal: Removal) -> None:
    """Listeners for transcript_delete and file_deleted; see handlers/__init__.py.

    Deleted messages arrive as `message` events: handlers/events.py hands them over.
    """

    @app.action(DELETE_ACTION)
    async def on_delete(ack: AsyncAck, body: dict[str, Any]) -> None:
        # The button sits on the transcript's first message, a reply: its thread_ts is the
        # thread's root. Whether the clicker may delete needs the Web API: the job checks.
        container = body.get("container") or {}
        message = body.get("message") or {}
        action = (body.get("actions") or [{}])[0]
        message_ts = str(container.get("message_ts") or message.get("ts") or "")
        await removal.delete_clicked(
            channel_id=str(container.get("channel_id") or (body.get("channel") or {}).get("id")),
            thread_ts=str(message.get("thread_ts") or container.get("thread_ts") or message_ts),
            user_id=str((body.get("user") or {}).get("id") or ""),
            click_id=str(action.get("action_ts") or body.get("trigger_id") or message_ts),
            team_id=str((body.get("team") or {}).get("id") or ""),
            response_url=str(body.get("response_url") or ""),
        )
        await ack()

    @app.event("file_deleted")
    async def on_file_deleted(event: dict[str, Any], context: AsyncBoltContext) -> None:
        # Only the file's id: which threads hold its transcript is in the store.
        await removal.file_deleted(str(event.get("file_id") or ""), team_id=context.team_id or "")
