"""Wire-level pieces of the Slack emulator: records, signing, rate limits, Block Kit checks.

Plain data and pure functions, so the emulator modules stay about routing and state.
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
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "files.info": "files:read",
    "users.info": "users:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "views.publish": None,
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
    "views.publish": 4,
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


# --- Block Kit ----------------------------------------------------------------------------------

# Sources: [sdk] slack_sdk 3.48 models/blocks (blocks.py, block_elements.py, basic_components.py)
# and models/views; [doc] docs.slack.dev/reference/block-kit (blocks, block-elements,
# composition-objects) and the method pages; [changelog] api.slack.com/changelog.
MAX_BLOCKS = 50  # [doc] blocks: "up to 50 blocks in each message"
MAX_VIEW_BLOCKS = 100  # [doc] "100 blocks in modals or Home tabs"; [sdk] View.blocks_max_length
MAX_SECTION_TEXT = 3000  # [sdk] SectionBlock.text_max_length
MAX_SECTION_FIELDS = 10  # [sdk] SectionBlock.fields_max_length
MAX_FIELD_TEXT = 2000  # [doc] section fields: "Maximum length for the text in each item is 2000"
MAX_HEADER_TEXT = 150  # [sdk] HeaderBlock.text_max_length
MAX_MARKDOWN_TOTAL = 12_000  # [doc] markdown block: cumulative limit per payload
MAX_BLOCK_ID = 255  # [sdk] Block.block_id_max_length
MAX_CONTEXT_ELEMENTS = 10  # [sdk] ContextBlock.elements_max_length
MAX_ACTIONS_ELEMENTS = 25  # [sdk] ActionsBlock.elements_max_length
MAX_IMAGE_URL = 3000  # [sdk] ImageBlock/ImageElement.image_url_max_length
MAX_ALT_TEXT = 2000  # [sdk] ImageBlock.alt_text_max_length
MAX_ACTION_ID = 255  # [sdk] InteractiveElement.action_id_max_length
MAX_BUTTON_TEXT = 75  # [sdk] ButtonElement.text_max_length (plain_text only [doc])
MAX_BUTTON_VALUE = 2000  # [sdk] ButtonElement.value_max_length
MAX_BUTTON_URL = 3000  # [sdk] ButtonElement.url_max_length
MAX_PLACEHOLDER = 150  # [sdk] InputInteractiveElement.placeholder_max_length
MAX_SELECT_OPTIONS = 100  # [sdk] StaticSelectElement.options_max_length (also option_groups)
MAX_OVERFLOW_OPTIONS = 5  # [sdk] OverflowMenuElement.options_max_length (min 1)
MAX_OPTION_TEXT = 75  # [sdk] Option.label_max_length
MAX_OPTION_VALUE = 150  # [sdk] Option.value_max_length
# chat.postMessage truncates longer `text` and warns (changelog 2018-04 "truncating really
# long messages"). chat.update and chat.postEphemeral document msg_too_long but no truncation,
# so the emulator refuses there: stricter than Slack may be, never looser.
MAX_MESSAGE_TEXT = 40_000

KNOWN_BLOCK_TYPES = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
    "table",
    "context_actions",
    "call",
}


def _schema_error(pointer: str, detail: str | None = None) -> list[str]:
    errors = [f"failed to match all allowed schemas [json-pointer:{pointer}]"]
    if detail:
        errors.append(detail)
    return errors


def _text_object_errors(
    obj: Any, pointer: str, *, max_len: int, plain_only: bool = False
) -> list[str]:
    allowed = {"plain_text"} if plain_only else {"plain_text", "mrkdwn"}
    if not isinstance(obj, dict) or obj.get("type") not in allowed:
        return _schema_error(pointer)
    text = obj.get("text")
    if not isinstance(text, str):
        return _schema_error(pointer, f"must provide a string [json-pointer:{pointer}/text]")
    if not text:
        return _schema_error(
            pointer, f"must be more than 0 characters [json-pointer:{pointer}/text]"
        )
    if len(text) > max_len:
        return _schema_error(
            pointer, f"must be less than {max_len + 1} characters [json-pointer:{pointer}/text]"
        )
    return []


def _max_len(obj: dict[str, Any], key: str, limit: int, pointer: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, str) or len(value) > limit:
        return _schema_error(
            pointer, f"must be less than {limit + 1} characters [json-pointer:{pointer}/{key}]"
        )
    return []


def _option_errors(options: Any, pointer: str, *, low: int, high: int) -> list[str]:
    if not isinstance(options, list) or not low <= len(options) <= high:
        return _schema_error(
            f"{pointer}/options",
            f"must have between {low} and {high} items [json-pointer:{pointer}/options]",
        )
    errors: list[str] = []
    for i, option in enumerate(options):
        at = f"{pointer}/options/{i}"
        if not isinstance(option, dict):
            errors += _schema_error(at)
            continue
        errors += _text_object_errors(
            option.get("text"), f"{at}/text", max_len=MAX_OPTION_TEXT, plain_only=True
        )
        if not isinstance(option.get("value"), str):
            errors += _schema_error(f"{at}/value")
        else:
            errors += _max_len(option, "value", MAX_OPTION_VALUE, at)
    return errors


def _element_errors(element: Any, pointer: str, action_ids: set[str]) -> list[str]:
    """Interactive elements (buttons, menus), in an actions block or as a section accessory."""
    if not isinstance(element, dict):
        return _schema_error(pointer)
    errors: list[str] = []
    action_id = element.get("action_id")
    if action_id is not None:
        errors += _max_len(element, "action_id", MAX_ACTION_ID, pointer)
        if action_id in action_ids:
            # [doc] action_id "should be unique among all other action_ids in the containing
            # block"; Slack's own answer to a duplicate is not recorded, refused here [guess].
            errors.append(f"duplicate action_id [json-pointer:{pointer}/action_id]")
        action_ids.add(str(action_id))
    kind = element.get("type")
    if kind == "button":
        errors += _text_object_errors(
            element.get("text"), f"{pointer}/text", max_len=MAX_BUTTON_TEXT, plain_only=True
        )
        errors += _max_len(element, "value", MAX_BUTTON_VALUE, pointer)
        errors += _max_len(element, "url", MAX_BUTTON_URL, pointer)
    elif kind in ("static_select", "multi_static_select", "overflow"):
        if kind == "overflow":
            errors += _option_errors(
                element.get("options"), pointer, low=1, high=MAX_OVERFLOW_OPTIONS
            )
        elif "option_groups" in element:
            groups = element["option_groups"]
            if not isinstance(groups, list) or not 1 <= len(groups) <= MAX_SELECT_OPTIONS:
                errors += _schema_error(f"{pointer}/option_groups")
        else:
            errors += _option_errors(
                element.get("options"), pointer, low=1, high=MAX_SELECT_OPTIONS
            )
    if "placeholder" in element:
        errors += _text_object_errors(
            element["placeholder"],
            f"{pointer}/placeholder",
            max_len=MAX_PLACEHOLDER,
            plain_only=True,
        )
    return errors


def _block_errors(block: Any, pointer: str) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCK_TYPES:
        return _schema_error(pointer)
    kind = block["type"]
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or len(block_id) > MAX_BLOCK_ID):
        return _schema_error(
            pointer, f"must be less than 256 characters [json-pointer:{pointer}/block_id]"
        )
    if kind == "section":
        if "text" not in block and "fields" not in block:
            return _schema_error(pointer, f"must provide text or fields [json-pointer:{pointer}]")
        errors: list[str] = []
        if "text" in block:
            errors += _text_object_errors(
                block["text"], f"{pointer}/text", max_len=MAX_SECTION_TEXT
            )
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") != "image":
            errors += _element_errors(accessory, f"{pointer}/accessory", set())
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or not fields or len(fields) > MAX_SECTION_FIELDS:
                errors += _schema_error(f"{pointer}/fields")
            else:
                for i, f in enumerate(fields):
                    errors += _text_object_errors(
                        f, f"{pointer}/fields/{i}", max_len=MAX_FIELD_TEXT
                    )
        return errors
    if kind == "header":
        return _text_object_errors(
            block.get("text"), f"{pointer}/text", max_len=MAX_HEADER_TEXT, plain_only=True
        )
    if kind == "markdown":
        text = block.get("text")
        if not isinstance(text, str) or not text:
            return _schema_error(f"{pointer}/text")
        return []
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
            return _schema_error(f"{pointer}/elements")
        errors = []
        for i, el in enumerate(elements):
            if isinstance(el, dict) and el.get("type") == "image":
                continue
            errors += _text_object_errors(el, f"{pointer}/elements/{i}", max_len=MAX_SECTION_TEXT)
        return errors
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
            return _schema_error(f"{pointer}/elements")
        errors = []
        action_ids: set[str] = set()
        for i, element in enumerate(elements):
            errors += _element_errors(element, f"{pointer}/elements/{i}", action_ids)
        return errors
    if kind == "rich_text":
        if not isinstance(block.get("elements"), list):
            return _schema_error(f"{pointer}/elements")
        return []
    if kind == "image":
        has_source = isinstance(block.get("image_url"), str) or isinstance(
            block.get("slack_file"), dict
        )
        if not has_source or not isinstance(block.get("alt_text"), str):
            return _schema_error(pointer)
        return _max_len(block, "alt_text", MAX_ALT_TEXT, pointer) + _max_len(
            block, "image_url", MAX_IMAGE_URL, pointer
        )
    return []


def check_blocks(blocks: Any, *, max_blocks: int = MAX_BLOCKS) -> tuple[str, list[str]] | None:
    """None if Slack would accept `blocks`, else (error code, response_metadata.messages).

    `max_blocks`: 50 in a message, 100 in a view (MAX_VIEW_BLOCKS).
    """
    if not isinstance(blocks, list):
        return "invalid_blocks_format", ["[ERROR] must be an array [json-pointer:/blocks]"]
    if len(blocks) > max_blocks:
        return "invalid_blocks", [
            f"[ERROR] no more than {max_blocks} items allowed [json-pointer:/blocks]"
        ]
    errors: list[str] = []
    seen_ids: set[str] = set()
    markdown_total = 0
    for i, block in enumerate(blocks):
        errors += _block_errors(block, f"/blocks/{i}")
        if isinstance(block, dict):
            block_id = block.get("block_id")
            if isinstance(block_id, str) and block.get("type") != "markdown":
                if block_id in seen_ids:
                    errors.append(f"duplicate block_id [json-pointer:/blocks/{i}/block_id]")
                seen_ids.add(block_id)
            if block.get("type") == "markdown" and isinstance(block.get("text"), str):
                markdown_total += len(block["text"])
    if errors:
        return "invalid_blocks", [f"[ERROR] {e}" for e in errors]
    if markdown_total > MAX_MARKDOWN_TOTAL:
        return "msg_blocks_too_long", [
            f"[ERROR] markdown blocks total {markdown_total} characters; "
            f"the limit is {MAX_MARKDOWN_TOTAL}"
        ]
    return None
