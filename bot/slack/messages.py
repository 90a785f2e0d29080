"""What the bot posts in a thread, as data: messages and the files attached to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage: `text` is the (escaped) notification/fallback text."""

    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class Attachment:
    """A file to post in the thread with files_upload_v2."""

    filename: str
    title: str
    content: str


@dataclass(frozen=True)
class Delivery:
    """Messages to post in order in the thread, then files to attach."""

    messages: list[SlackMessage]
    attachments: list[Attachment]
