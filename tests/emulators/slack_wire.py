"""Wire-level pieces of the Slack emulator: records, signing, scopes, rate limits.

Plain data and pure functions, so the emulator modules stay about routing and state. Block Kit
checks live in slack_blocks.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiCall:
    """One Web API request as the emulator saw it."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    token: str | None
    http_method: str = "POST"
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class DownloadRecord:
    """One request to a file URL (url_private / url_private_download)."""

    path: str
    authorization: str | None
    host: str
    file_id: str | None = None
    status: int = 0


@dataclass
class SentRequest:
    """What the app answered to a request the emulator sent it."""

    status: int
    body: str
    elapsed_s: float
    headers: dict[str, str]
    request_body: bytes = b""
    event_id: str | None = None
    response_url: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class SlackApiFailure(Exception):
    """Raised inside a method handler to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def sign(secret: str, body: bytes, ts: int) -> str:
    """X-Slack-Signature for `body` sent at `ts` (slack-wire.md §4)."""
    base = b"v0:" + str(ts).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def encode_cursor(value: str, kind: str = "next_ts") -> str:
    # Slack's cursors look like base64("next_ts:1512085861000543") for messages and
    # base64("user_id:W1234567") for members (docs' examples); clients treat them as opaque.
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(cursor: str, kind: str = "next_ts") -> str:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError) as e:
        raise SlackApiFailure("invalid_cursor") from e
    prefix, _, value = raw.partition(":")
    if prefix != kind or not value:
        raise SlackApiFailure("invalid_cursor")
    return value


# --- scopes -------------------------------------------------------------------------------------

# Scope each method needs (docs.slack.dev method pages). Conversation methods depend on the
# channel type and are resolved by the method handler instead.
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "chat.delete": "chat:write",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "files.info": "files:read",
    "users.info": "users:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.delete": "files:write",
    "views.publish": None,
    "views.open": None,  # [doc] views.open: "no scope required"
    "apps.connections.open": "connections:write",
}

HISTORY_SCOPES = {
    "channel": "channels:history",
    "group": "groups:history",
    "im": "im:history",
    "mpim": "mpim:history",
}
READ_SCOPES = {
    "channel": "channels:read",
    "group": "groups:read",
    "im": "im:read",
    "mpim": "mpim:read",
}


# --- rate limits --------------------------------------------------------------------------------

# Per-minute tiers from docs.slack.dev/apis/web-api/rate-limits; burst equals the per-minute count.
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS: dict[str, int] = {
    "auth.test": 4,
    "chat.update": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "chat.delete": 3,
    "reactions.add": 3,
    "reactions.remove": 2,
    "files.info": 4,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.info": 3,
    "conversations.members": 4,
    "users.info": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "files.delete": 3,
    "views.publish": 4,
    "views.open": 4,
    "apps.connections.open": 1,
}
# chat.postMessage: ~1 message/s per channel with short bursts allowed.
POST_MESSAGE_BURST = 20.0
POST_MESSAGE_REFILL_PER_S = 1.0


class TokenBucket:
    def __init__(self, burst: float, refill_per_s: float) -> None:
        self.capacity = burst
        self.tokens = burst
        self.refill_per_s = refill_per_s
        self.updated = time.monotonic()

    def take(self) -> int | None:
        """Take one token; None when allowed, else the whole seconds to wait (Retry-After)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.refill_per_s))


class RateLimiter:
    def __init__(self) -> None:
        self.buckets: dict[tuple[str, str], TokenBucket] = {}

    def check(self, method: str, channel: str | None) -> int | None:
        if method == "chat.postMessage":
            key = (method, channel or "")
            burst, refill = POST_MESSAGE_BURST, POST_MESSAGE_REFILL_PER_S
        else:
            key = (method, "")
            per_minute = TIER_PER_MINUTE[METHOD_TIERS.get(method, 3)]
            # Tier 1 is "1+ per minute"; allow a few reconnects before limiting.
            burst, refill = max(per_minute, 5), per_minute / 60
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(burst, refill)
        return bucket.take()
