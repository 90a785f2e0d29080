"""Buttons and menus on transcripts (download, translate, rename speakers) and Retry.

Each listener acks, reads who clicked where, and hands over to `TranscriptControls`; what
it answers goes only to the person who clicked (ephemeral, through the response_url).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.slack.controls import Click, TranscriptControls
from bot.slack.controls_render import (
    DOWNLOAD_ACTION,
    RENAME_ACTION,
    RETRY_ACTION,
    TRANSLATE_ACTION,
)
from bot.slack.rename_modal import RENAME_CALLBACK

logger = logging.getLogger(__name__)


def _click(body: dict[str, Any]) -> Click:
    """Who clicked, in which thread: the controls sit on replies in the transcript's thread."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    return Click(
        channel_id=str((body.get("channel") or {}).get("id") or container.get("channel_id") or ""),
        thread_ts=str(
            container.get("thread_ts") or message.get("thread_ts") or message.get("ts") or ""
        ),
        user_id=str((body.get("user") or {}).get("id") or ""),
        team_id=str((body.get("team") or {}).get("id") or ""),
        trigger_id=str(body.get("trigger_id") or ""),
    )


def _chosen(action: dict[str, Any]) -> str:
    return str((action.get("selected_option") or {}).get("value") or "")


#: Notices on their way: Slack gets its answer first (process_before_response=True makes
#: it wait for the listener), and a slow or failing response_url must not turn a click
#: whose job is already journaled into an error in the person's Slack.
_notices: set[asyncio.Task[None]] = set()


def _tell(respond: AsyncRespond, notice: str | None) -> None:
    if notice:
        task = asyncio.create_task(_send(respond, notice))
        _notices.add(task)
        task.add_done_callback(_notices.discard)


async def _send(respond: AsyncRespond, notice: str) -> None:
    try:
        await respond(text=notice, response_type="ephemeral", replace_original=False)
    except Exception:
        logger.warning("could not send a notice through the response_url", exc_info=True)


def register(app: AsyncApp, controls: TranscriptControls) -> None:
    """Listeners for the contract's action ids; see handlers/__init__.py."""

    @app.action(DOWNLOAD_ACTION)
    async def download(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        _tell(respond, await controls.download(_click(body), _chosen(action)))

    @app.action(TRANSLATE_ACTION)
    async def translate(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        _tell(respond, await controls.translate(_click(body), _chosen(action)))

    @app.action(RENAME_ACTION)
    async def rename_speakers(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        # views.open right away: the trigger expires 3 s after the click.
        _tell(respond, await controls.open_rename(_click(body)))

    @app.view(RENAME_CALLBACK)
    async def rename_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        submission = controls.read_rename(view)
        if submission.errors:
            await ack(response_action="errors", errors=submission.errors)
            return
        await ack()
        await controls.rename(submission, str(view.get("id") or ""), _click(body))

    @app.action(RETRY_ACTION)
    async def retry(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        _tell(respond, await controls.retry(_click(body), str(action.get("value") or "")))
