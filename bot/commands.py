"""Parsing `/transcribe` arguments and Slack links (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_LANG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
# https://team.slack.com/archives/C0123/p1700000000000100?thread_ts=1700000000.000050&cid=C0123
_MESSAGE_LINK = re.compile(
    r"https://[\w.-]*slack\.com/archives/(?P<channel>[CGD][A-Z0-9]+)/p(?P<sec>\d{10})(?P<frac>\d{6})"
    r"(?:\?(?P<query>[^>|\s]*))?"
)
# https://team.slack.com/files/U0123/F0456/name.m4a
_FILE_LINK = re.compile(r"https://[\w.-]*slack\.com/files/[UW][A-Z0-9]+/(?P<file>F[A-Z0-9]+)")
_THREAD_TS = re.compile(r"thread_ts=(\d{10}\.\d{6})")


@dataclass(frozen=True)
class MessageLink:
    channel_id: str
    ts: str
    thread_ts: str | None


@dataclass(frozen=True)
class Command:
    action: Literal["latest", "message", "file", "help", "auto", "language", "translate", "usage"]
    value: str | bool | None = None
    message: MessageLink | None = None


USAGE = (
    "Usage: `/transcribe` (latest recording here) · `/transcribe <message or file link>` · "
    "`/transcribe help` · `/transcribe auto on|off` · `/transcribe language <code>|auto` · "
    "`/transcribe translate <code>|off`"
)


def parse_message_link(text: str) -> MessageLink | None:
    m = _MESSAGE_LINK.search(text)
    if not m:
        return None
    thread = _THREAD_TS.search(m.group("query") or "")
    return MessageLink(
        channel_id=m.group("channel"),
        ts=f"{m.group('sec')}.{m.group('frac')}",
        thread_ts=thread.group(1) if thread else None,
    )


def parse_file_link(text: str) -> str | None:
    m = _FILE_LINK.search(text)
    return m.group("file") if m else None


def parse_command(text: str) -> Command:
    """`/transcribe` text → what to do. Unknown input → `usage`."""
    stripped = text.strip()
    words = stripped.split()
    if not words:
        return Command("latest")
    head = words[0].lower()
    if head == "help":
        return Command("help")
    if head == "auto" and len(words) == 2 and words[1].lower() in ("on", "off"):
        return Command("auto", words[1].lower() == "on")
    if head == "language" and len(words) == 2:
        code = words[1]
        if code.lower() == "auto":
            return Command("language", None)
        if _LANG.match(code):
            return Command("language", code)
    if head == "translate" and len(words) == 2:
        code = words[1]
        if code.lower() == "off":
            return Command("translate", None)
        if _LANG.match(code):
            return Command("translate", code)
    link = parse_message_link(stripped)
    if link is not None:
        return Command("message", message=link)
    file_id = parse_file_link(stripped)
    if file_id is not None:
        return Command("file", file_id)
    return Command("usage")


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """The text of an app_mention without the leading `<@BOT>`."""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")
    return re.sub(r"^\s*<@[UW][A-Z0-9]+>\s*", "", text).strip()
