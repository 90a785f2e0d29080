"""Modals of the Slack emulator: trigger_ids as Slack issues and exchanges them, views.open, and
the views people have open (mixed into SlackEmulator; state lives there).

Sources: [doc] docs.slack.dev/reference/methods/views.open and /surfaces/modals, the view
object reference; [sdk] slack_sdk 3.48 models/views (View limits); [api-ref] slack-ruby/
slack-api-ref methods/views/views.open.json (errors); [3p] observed answers quoted in issues.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
from typing import Any

from tests.emulators.slack_blocks import (
    MAX_VIEW_BLOCKS,
    check_blocks,
    max_len_errors,
    schema_error,
)
from tests.emulators.slack_wire import SlackApiFailure

# [doc] bolt-python "Opening modals": "Pass a valid trigger_id within 3 seconds of receiving it".
TRIGGER_TTL_S = 3.0
# [api-ref] invalid_trigger_id: 'The expected format for the trigger_id argument is
# "132456.7890123.abcdef"'.
TRIGGER_ID_FORMAT = re.compile(r"^\d+\.\d+\.[0-9a-zA-Z]+$")
MAX_VIEW_TITLE = 24  # [sdk] View.title_max_length (min 1)
MAX_VIEW_BUTTON = 24  # [sdk] View.submit_max_length, View.close_max_length
MAX_CALLBACK_ID = 255  # [sdk] View.callback_id_max_length
MAX_PRIVATE_METADATA = 3000  # [sdk] View.private_metadata_max_length
MAX_EXTERNAL_ID = 255  # [doc] views.open: external_id "has a max length of 255 characters"
MAX_VIEW_BYTES = 250_000  # [api-ref] view_too_large: "the provided view is greater than 250kb"
MAX_VIEW_STACK = 3  # [doc] modals: "A modal can hold up to 3 views at a time in a view stack"


def _button_errors(view: dict[str, Any], key: str, limit: int) -> list[str]:
    """title / submit / close: plain_text, 1..limit characters.

    The wording is Slack's as observed for a 27-character title (jeremeamia/slack-block-kit#3,
    2020): "failed to match all allowed schemas [json-pointer:/view/title]" then "must be less
    than 24 characters [json-pointer:/view/title/text]" (sic: 24 is allowed [sdk]).
    """
    obj = view.get(key)
    pointer = f"/view/{key}"
    if not isinstance(obj, dict) or obj.get("type") != "plain_text":
        return schema_error(pointer)
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return schema_error(
            pointer, f"must be more than 0 characters [json-pointer:{pointer}/text]"
        )
    if len(text) > limit:
        return schema_error(
            pointer, f"must be less than {limit} characters [json-pointer:{pointer}/text]"
        )
    return []


def check_modal(view: Any) -> list[str]:
    """What Slack would say about a modal view (response_metadata.messages); [] if none."""
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    errors: list[str] = []
    if view.get("type") != "modal":
        # views.open and views.push open modals only; Home tabs go through views.publish [doc].
        errors += schema_error("/view/type")
    errors += _button_errors(view, "title", MAX_VIEW_TITLE)
    for key in ("submit", "close"):
        if key in view:
            errors += _button_errors(view, key, MAX_VIEW_BUTTON)
    blocks = view.get("blocks")
    if isinstance(blocks, list) and not blocks:
        # [sdk] View: "views must contain between 1 and 100 blocks".
        errors.append("must have at least 1 items [json-pointer:/view/blocks]")
    problem = check_blocks(
        blocks, max_blocks=MAX_VIEW_BLOCKS, root="/view", action_ids_per_message=False
    )
    if problem is not None:
        errors += [m.removeprefix("[ERROR] ") for m in problem[1]]
    has_input = isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "input" for b in blocks
    )
    if has_input and "submit" not in view:
        # [doc] view object: submit is "Required if an input block is within the blocks array".
        errors.append("submit is required when the view has input blocks [json-pointer:/view]")
    errors += max_len_errors(view, "callback_id", MAX_CALLBACK_ID, "/view")
    errors += max_len_errors(view, "private_metadata", MAX_PRIVATE_METADATA, "/view")
    errors += max_len_errors(view, "external_id", MAX_EXTERNAL_ID, "/view")
    for key in ("clear_on_close", "notify_on_close"):
        if key in view and not isinstance(view[key], bool):
            errors += schema_error(f"/view/{key}")
    return [e if e.startswith("[ERROR]") else f"[ERROR] {e}" for e in errors]


def input_blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The input blocks of a view by block_id."""
    return {
        b["block_id"]: b
        for b in view.get("blocks", [])
        if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")
    }


class ViewsMixin:
    """Trigger ids, views.open and the views open on people's screens."""

    team_id: str
    app_id: str
    bot_id: str
    users: dict[str, dict[str, Any]]
    trigger_ttl_s: float
    triggers: dict[str, dict[str, Any]]
    views_opened: list[dict[str, Any]]
    views: dict[str, dict[str, Any]]
    view_anomalies: list[dict[str, Any]]

    # --- triggers -----------------------------------------------------------------------------

    def _new_trigger_id(self, user: str = "U0ALICE") -> str:
        """A trigger_id as the payload senders hand out (slash commands, shortcuts, actions)."""
        trigger_id = f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = {
            "user": user,
            "issued_at": time.monotonic(),
            "exchanged": False,
        }
        return trigger_id

    def age_trigger(self, trigger_id: str, seconds: float) -> None:
        """Pretend `trigger_id` was issued `seconds` earlier (expiry without sleeping)."""
        self.triggers[trigger_id]["issued_at"] -= seconds

    def _exchange_trigger(self, trigger_id: str) -> dict[str, Any]:
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            # [api-ref] documents invalid_trigger_id; its example answer to a bad trigger is
            # invalid_arguments ("invalid `trigger_id`"). Either way the app gets no modal.
            raise SlackApiFailure("invalid_trigger_id")
        if trigger["exchanged"]:
            raise SlackApiFailure("exchanged_trigger_id")  # [api-ref] "already exchanged"
        if time.monotonic() - trigger["issued_at"] > self.trigger_ttl_s:
            raise SlackApiFailure("expired_trigger_id")  # [api-ref] "The trigger_id is expired"
        trigger["exchanged"] = True
        return trigger

    # --- views --------------------------------------------------------------------------------

    def view(self, view_id: str) -> dict[str, Any]:
        """The view `view_id` as it is now (after any response_action update)."""
        return self.views[view_id]["view"]

    def _store_view(
        self,
        view: dict[str, Any],
        *,
        user: str,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        view_id = view_id or f"VM{len(self.views_opened) + 1:09d}"
        blocks = copy.deepcopy(view.get("blocks", []))
        used = {b.get("block_id") for b in blocks if isinstance(b, dict)}
        for block in blocks:
            if isinstance(block, dict) and not block.get("block_id"):
                # Slack names unnamed blocks itself ("hspI", "zniAM" in bolt-python's
                # view_submission fixtures) [code].
                while (new_id := secrets.token_urlsafe(3)[:4]) in used:
                    pass
                used.add(new_id)
                block["block_id"] = new_id
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": blocks,
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_urlsafe(6)}",
            "title": copy.deepcopy(view["title"]),
            "clear_on_close": view.get("clear_on_close", False),
            "notify_on_close": view.get("notify_on_close", False),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if view_id in self.views:
            self.views[view_id]["view"] = stored
        else:
            self.views[view_id] = {"view": stored, "user": user, "open": True}
            self.views_opened.append(stored)
        return stored

    async def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger_id = params.get("trigger_id") or params.get("interactivity_pointer")
        for name, value in (("trigger_id", trigger_id), ("view", params.get("view"))):
            if not value:
                raise SlackApiFailure(
                    "invalid_arguments",
                    response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
                )
        raw = params["view"]
        try:
            view = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as e:
            raise SlackApiFailure(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] invalid JSON [json-pointer:/view]"]},
            ) from e
        if len(json.dumps(view).encode()) > MAX_VIEW_BYTES:
            raise SlackApiFailure("view_too_large")
        if not TRIGGER_ID_FORMAT.match(str(trigger_id)):
            raise SlackApiFailure("invalid_trigger_id")
        # The view is checked before the trigger is spent (argument validation first) [guess].
        messages = check_modal(view)
        if messages:
            raise SlackApiFailure("invalid_arguments", response_metadata={"messages": messages})
        external_id = view.get("external_id")
        if external_id and any(
            v["view"]["external_id"] == external_id for v in self.views.values()
        ):
            raise SlackApiFailure("duplicate_external_id")  # [doc] unique for all views on a team
        trigger = self._exchange_trigger(str(trigger_id))
        stored = self._store_view(view, user=trigger["user"])
        return {"ok": True, "view": copy.deepcopy(stored)}

    def _answer_to_view(self, view_id: str, answer: dict[str, Any] | None) -> None:
        """What the app's answer to a view_submission does to the modal (docs: modals,
        "Responding to view_submission"): nothing/empty closes it, `errors` keeps it open
        with messages under input blocks, `update` replaces it, `push` stacks a new view
        (3 at most), `clear` closes the whole stack. Misuses land in `view_anomalies`."""
        entry = self.views[view_id]
        view = entry["view"]
        action = (answer or {}).get("response_action")
        if action is None:
            self._close_stack(view_id)
            return
        if action == "errors":
            errors = answer.get("errors") if answer else None
            inputs = input_blocks(view)
            if not isinstance(errors, dict) or not errors:
                self.view_anomalies.append({"view_id": view_id, "problem": "errors is empty"})
            else:
                unknown = sorted(set(errors) - set(inputs))
                if unknown:
                    # [doc] "errors": keys are block_ids of input blocks; any other key leaves
                    # the user with Slack's generic error and no message [guess on the UI].
                    self.view_anomalies.append(
                        {
                            "view_id": view_id,
                            "problem": "errors name no input block",
                            "ids": unknown,
                        }
                    )
            return
        if action in ("update", "push"):
            new_view = (answer or {}).get("view")
            messages = check_modal(new_view)
            if messages:
                self.view_anomalies.append(
                    {"view_id": view_id, "problem": f"invalid {action} view", "messages": messages}
                )
                return
            assert isinstance(new_view, dict)
            if action == "update":
                self._store_view(
                    new_view,
                    user=entry["user"],
                    view_id=view_id,
                    root_view_id=view["root_view_id"],
                    previous_view_id=view["previous_view_id"],
                )
                return
            depth = 1 + sum(
                1
                for v in self.views.values()
                if v["open"] and v["view"]["root_view_id"] == view["root_view_id"]
            )
            if depth > MAX_VIEW_STACK:
                self.view_anomalies.append({"view_id": view_id, "problem": "view stack over 3"})
                return
            self._store_view(
                new_view,
                user=entry["user"],
                root_view_id=view["root_view_id"],
                previous_view_id=view_id,
            )
            return
        if action == "clear":
            self._close_stack(view["root_view_id"], whole=True)
            return
        self.view_anomalies.append({"view_id": view_id, "problem": f"unknown {action!r}"})

    def _close_stack(self, view_id: str, *, whole: bool = False) -> None:
        root = self.views[view_id]["view"]["root_view_id"]
        for entry in self.views.values():
            if entry["view"]["id"] == view_id or (whole and entry["view"]["root_view_id"] == root):
                entry["open"] = False
