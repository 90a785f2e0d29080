"""Helpers for the tests of the ways to ask (/transcribe, the shortcut, mentions, DMs)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.conftest import Server, make_settings, start_server
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SentRequest, SlackEmulator

CHANNEL = "C0GENERAL"
#: Slack's limit for answering a slash command or a shortcut.
ACK_LIMIT_S = 3.0


@asynccontextmanager
async def running(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, **overrides: Any
) -> AsyncIterator[Server]:
    srv = await start_server(make_settings(slack, gemini, tmp_path, **overrides))
    try:
        yield srv
    finally:
        await srv.runner.cleanup()


def share(
    slack: SlackEmulator,
    clip: Path,
    channel: str = CHANNEL,
    *,
    thread_ts: str | None = None,
    user: str = "U0ALICE",
    name: str = "memo.m4a",
    text: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A user shares the clip: (file object, the message event Slack sends)."""
    file = slack.add_file(clip.read_bytes(), name=name, mimetype="audio/mp4", user=user)
    event = slack.post_user_message(
        channel, files=[file], thread_ts=thread_ts, user=user, text=text
    )
    return file, event


def transcripts(slack: SlackEmulator, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    """The bot's transcript replies in a thread (not warnings, not answers)."""
    return [
        m
        for m in slack.bot_replies(channel, thread_ts)
        if not str(m.get("text", "")).startswith(":warning:") and "Q:*" not in _blocks(m)
    ]


def answers(slack: SlackEmulator, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.bot_replies(channel, thread_ts) if "Q:*" in _blocks(m)]


def _blocks(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or [])


def notices(slack: SlackEmulator) -> list[str]:
    """What only the asker saw after the ack: response_url posts and ephemeral messages."""
    return [str(p["body"].get("text", "")) for p in slack.response_url_posts] + [
        str(e.get("text", "")) for e in slack.ephemerals
    ]


def link(slack: SlackEmulator, channel: str, ts: str, thread_ts: str | None = None) -> str:
    url = f"https://{slack.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    return url + (f"?thread_ts={thread_ts}&cid={channel}" if thread_ts else "")


async def command(slack: SlackEmulator, server: Server, text: str = "", **kw: Any) -> str:
    """Send `/transcribe text`; check Slack got a 200 within 3 s; return the ack's text."""
    sent: SentRequest = await slack.send_slash_command(server.events_url, text=text, **kw)
    assert sent.status == 200, sent.body
    assert sent.elapsed_s < ACK_LIMIT_S
    return str(sent.json().get("text", "")) if sent.body else ""
