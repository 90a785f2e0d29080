"""The Rename speakers modal: its Block Kit, and what a submission of it says.

For each speaker label, a person to pick (`users_select`) and a name to type (pre-filled
with the label's name now; emptied, the label shows again). A picked person wins over
typed text. `private_metadata` carries the thread and the labels, in the order of the
inputs. Pure functions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.slack.text import clip, inline

#: The modal's callback_id (its view_submission listener).
RENAME_CALLBACK = "transcript_rename"
#: The longest name a speaker may be given.
MAX_NAME_CHARS = 80
#: Two inputs a speaker within the modal's 100 blocks, and a recording rarely has more.
MAX_SPEAKERS = 30
#: Slack's limit for private_metadata.
_METADATA_LIMIT = 3000
_LABEL_LIMIT = 150  # of an input's label (Slack allows 2,000; a line is plenty)

_PERSON, _NAME = "person", "name"
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)>$")


def picked(user_id: str) -> str:
    """How a picked person travels in a rename job's names (`Job.names`)."""
    return f"<@{user_id}>"


def picked_user(value: str) -> str | None:
    """The user id of a picked person (`picked`), None for a typed name."""
    match = _MENTION.match(value)
    return match.group(1) if match else None


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _metadata(channel_id: str, thread_ts: str, labels: list[str]) -> str:
    return json.dumps({"c": channel_id, "t": thread_ts, "l": labels}, ensure_ascii=False)


def rename_modal(
    channel_id: str, thread_ts: str, speakers: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """The modal for a thread's transcript; `speakers`: (label, its name now) in order."""
    shown = list(speakers[:MAX_SPEAKERS])
    while shown and len(_metadata(channel_id, thread_ts, [s[0] for s in shown])) > (
        _METADATA_LIMIT
    ):
        shown.pop()  # absurdly long labels: fewer speakers rather than no modal
    blocks: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Pick a person or type a name for each speaker. A person is shown "
                    "by their display name, without notifying them. Empty a name to show "
                    "the original label again.",
                }
            ],
        }
    ]
    for i, (label, name) in enumerate(shown):
        title = clip(inline(label), _LABEL_LIMIT) or "Unknown"
        text_input: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": _NAME,
            "placeholder": _plain(clip(f"A name for {title}", 150)),
        }
        if name != label:
            text_input["initial_value"] = name
        blocks += [
            {
                "type": "input",
                "block_id": f"{_PERSON}-{i}",
                "optional": True,
                "label": _plain(title),
                "element": {
                    "type": "users_select",
                    "action_id": _PERSON,
                    "placeholder": _plain("Pick a person"),
                },
            },
            {
                "type": "input",
                "block_id": f"{_NAME}-{i}",
                "optional": True,
                "label": _plain(clip(f"…or a name for {title}", _LABEL_LIMIT)),
                "element": text_input,
            },
        ]
    if len(shown) < len(speakers):
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"Only the first {len(shown)} speakers fit here."}
                ],
            }
        )
    return {
        "type": "modal",
        "callback_id": RENAME_CALLBACK,
        "title": _plain("Rename speakers"),
        "submit": _plain("Rename"),
        "close": _plain("Cancel"),
        "private_metadata": _metadata(channel_id, thread_ts, [s[0] for s in shown]),
        "blocks": blocks,
    }


@dataclass(frozen=True)
class RenameSubmission:
    """What a submitted modal asks for: `names` label → a name or a `picked` person (an
    empty name: back to the label); `errors` block_id → what to fix (nothing is renamed)."""

    channel_id: str
    thread_ts: str
    names: dict[str, str]
    errors: dict[str, str]


def read_submission(view: dict[str, Any]) -> RenameSubmission:
    """The submitted modal `view` (view_submission's `view`, state included)."""
    meta = json.loads(str(view.get("private_metadata") or "{}"))
    labels = [str(label) for label in meta.get("l") or []]
    values = (view.get("state") or {}).get("values") or {}
    names: dict[str, str] = {}
    errors: dict[str, str] = {}
    for i, label in enumerate(labels):
        person = (values.get(f"{_PERSON}-{i}") or {}).get(_PERSON) or {}
        typed = (values.get(f"{_NAME}-{i}") or {}).get(_NAME) or {}
        user_id = str(person.get("selected_user") or "")
        name = inline(str(typed.get("value") or ""))
        if user_id:
            names[label] = picked(user_id)
        elif len(name) > MAX_NAME_CHARS:
            errors[f"{_NAME}-{i}"] = (
                f"A name can be at most {MAX_NAME_CHARS} characters (this one has {len(name)})."
            )
        else:
            names[label] = name
    return RenameSubmission(str(meta.get("c") or ""), str(meta.get("t") or ""), names, errors)
