"""What people do with what the app showed them: block_actions on its messages and
view_submission of its modals, signed like every interactivity payload (mixed into
SlackEmulator; state lives there).

Sources: [code] bolt-python tests/scenario_tests_async/test_view_submission.py and
test_block_actions.py (payload fixtures), java-slack-sdk json-logs/samples/app-backend/
interactive-components/BlockActionPayload.json (`container.thread_ts`); [doc] docs.slack.dev
reference/interaction-payloads (block_actions, view_submission) and the block element pages.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from tests.emulators.slack_blocks import find_element
from tests.emulators.slack_inbound import VERIFICATION_TOKEN
from tests.emulators.slack_views import input_blocks
from tests.emulators.slack_wire import SentRequest

# Where each input element keeps its value in view.state.values (ViewStateValue in slack_sdk
# models/views: value, selected_user, selected_option, ...).
STATE_KEYS = {
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "static_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options",
    "checkboxes": "selected_options",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
}
INITIAL_KEYS = {
    "value": "initial_value",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
}
# [doc] modals: an app "must respond within 3 seconds" to a view_submission, like any payload.
VIEW_ANSWER_DEADLINE_S = 3.0
LIST_KEYS = {"selected_users", "selected_conversations", "selected_channels", "selected_options"}
# [guess] a plain_text_input without max_length takes at most 3000 characters in Slack's client.
DEFAULT_TEXT_INPUT_MAX = 3000


def _option(element: dict[str, Any], value: str) -> dict[str, Any]:
    options = element.get("options") or [
        o for g in element.get("option_groups", []) for o in g.get("options", [])
    ]
    for option in options:
        if option.get("value") == value:
            return dict(option)
    offered = [o.get("value") for o in options]
    raise ValueError(f"{value!r} is not an option of {element.get('action_id')!r}: {offered}")


class InteractivityMixin:
    """block_actions from stored messages, view_submission from opened views."""

    team_id: str
    team_domain: str
    app_id: str
    users: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    messages: dict[str, list[dict[str, Any]]]
    views: dict[str, dict[str, Any]]
    view_anomalies: list[dict[str, Any]]

    def _user_object(self, user: str) -> dict[str, Any]:
        name = self.users.get(user, {}).get("name", user)
        return {"id": user, "username": name, "name": name, "team_id": self.team_id}

    # --- block_actions ------------------------------------------------------------------------

    def block_action_payload(
        self,
        *,
        message: dict[str, Any],
        actions: list[dict[str, Any]],
        channel: str = "C0GENERAL",
        user: str = "U0ALICE",
    ) -> dict[str, Any]:
        """A block_actions payload for `actions` taken on `message` in `channel`."""
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        }
        if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
            container["thread_ts"] = message["thread_ts"]  # [code] java BlockActionPayload
        state: dict[str, Any] = {}
        for action in actions:
            key = STATE_KEYS.get(action.get("type", ""))
            if key:
                state.setdefault(action["block_id"], {})[action["action_id"]] = {
                    "type": action["type"],
                    key: action.get(key),
                }
        public = {k: v for k, v in message.items() if k not in ("channel", "channel_type")}
        return {
            "type": "block_actions",
            "token": VERIFICATION_TOKEN,
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user_object(user),
            "api_app_id": self.app_id,
            "container": container,
            "trigger_id": self._new_trigger_id(user),
            "channel": {
                "id": channel,
                "name": self.channels.get(channel, {}).get("name") or channel,
            },
            "message": public,
            # [guess] only the elements acted on; Slack also lists the others' current state.
            "state": {"values": state},
            "response_url": self._new_response_url(
                {"channel": channel, "user": user, "message_ts": message["ts"]}
            ),
            "actions": actions,
            "is_enterprise_install": False,
            "enterprise": None,
        }

    async def send_block_action(
        self,
        url: str,
        *,
        action_id: str,
        value: str = "",
        message: dict[str, Any],
        channel: str = "C0GENERAL",
        user: str = "U0ALICE",
        block_id: str = "b1",
        selected_option: dict[str, Any] | None = None,
        **kw: Any,
    ) -> SentRequest:
        """A hand-made action: a button (`value`), or a static_select when `selected_option`
        (`{"text": {...}, "value": ...}`) is given. Prefer `send_block_action_from_message`,
        which takes the element from what the bot really posted."""
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": self._next_ts(),
        }
        if selected_option is not None:
            action |= {"type": "static_select", "selected_option": selected_option}
        else:
            action |= {
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": action_id},
            }
        payload = self.block_action_payload(
            message=message, actions=[action], channel=channel, user=user
        )
        return await self.send_interactive(url, payload, **kw)

    def _stored_message(
        self, message: dict[str, Any], channel: str | None
    ) -> tuple[str, dict[str, Any]]:
        channel = channel or message.get("channel")
        for channel_id in [channel] if channel else list(self.messages):
            for stored in self.messages.get(channel_id, []):
                if stored["ts"] == message["ts"]:
                    return channel_id, stored
        raise ValueError(f"no message {message['ts']} in the emulator (never posted, or deleted)")

    def action_from_message(
        self,
        message: dict[str, Any],
        action_id: str,
        *,
        selected_value: str | None = None,
        channel: str | None = None,
        user: str = "U0ALICE",
    ) -> dict[str, Any]:
        """The block_actions payload of a person using element `action_id` of `message` as
        the emulator stores it now (after any chat.update). Fails loudly when the message
        has no such element, or a select has no option `selected_value`."""
        channel_id, stored = self._stored_message(message, channel)
        found = find_element(stored.get("blocks") or [], action_id)
        if found is None:
            raise ValueError(f"message {stored['ts']} has no element with action_id {action_id!r}")
        block, element = found
        if not block.get("block_id"):
            # Slack gives every block of a posted message a block_id [code: payload fixtures].
            block["block_id"] = secrets.token_urlsafe(3)[:4]
        kind = element.get("type")
        action: dict[str, Any] = {
            "type": kind,
            "action_id": action_id,
            "block_id": block["block_id"],
            "action_ts": self._next_ts(),
        }
        if kind == "button":
            if selected_value is not None:
                raise ValueError(f"{action_id!r} is a button; it has no options")
            action["text"] = element["text"]
            for key in ("value", "style"):
                if key in element:
                    action[key] = element[key]
        elif kind in ("static_select", "overflow", "radio_buttons"):
            if selected_value is None:
                raise ValueError(f"{action_id!r} is a {kind}: say which option (selected_value)")
            action["selected_option"] = _option(element, selected_value)
            if "placeholder" in element:
                action["placeholder"] = element["placeholder"]
        elif kind == "users_select":
            if selected_value not in self.users or self.users[selected_value]["deleted"]:
                raise ValueError(f"{selected_value!r} is no active user to pick")
            action["selected_user"] = selected_value
        else:
            raise ValueError(f"the emulator does not act on {kind} elements yet")
        wire = self._wire_message(channel_id, stored)
        return self.block_action_payload(
            message=wire, actions=[action], channel=channel_id, user=user
        )

    async def send_block_action_from_message(
        self,
        url: str,
        message: dict[str, Any],
        action_id: str,
        *,
        selected_value: str | None = None,
        channel: str | None = None,
        user: str = "U0ALICE",
        **kw: Any,
    ) -> SentRequest:
        """Click the button / choose option `selected_value` of element `action_id` in a
        message the bot posted (see `action_from_message`) and POST it to `url`."""
        payload = self.action_from_message(
            message, action_id, selected_value=selected_value, channel=channel, user=user
        )
        return await self.send_interactive(url, payload, **kw)

    async def socket_send_block_action_from_message(
        self, message: dict[str, Any], action_id: str, *, timeout: float = 5.0, **kw: Any
    ) -> dict[str, Any]:
        payload = self.action_from_message(message, action_id, **kw)
        return await self.socket_send("interactive", payload, timeout=timeout)

    # --- view_submission ----------------------------------------------------------------------

    def _state_value(self, element: dict[str, Any], given: Any) -> dict[str, Any]:
        kind = element.get("type", "")
        key = STATE_KEYS.get(kind)
        if key is None:
            raise ValueError(f"the emulator does not submit {kind} elements yet")
        if isinstance(given, dict):
            if given.get("type") != kind:
                raise ValueError(f"{element['action_id']!r} is a {kind}, not {given.get('type')}")
            return dict(given)
        if given is None:
            # Left untouched: the initial value stays (or nothing).
            value = element.get(INITIAL_KEYS[key])
            return {"type": kind, key: [] if value is None and key in LIST_KEYS else value}
        if key in ("selected_option", "selected_options"):
            picked = [_option(element, v) for v in ([given] if isinstance(given, str) else given)]
            return {"type": kind, key: picked[0] if key == "selected_option" else picked}
        if key in ("selected_user", "selected_users"):
            for user in [given] if isinstance(given, str) else given:
                if user not in self.users or self.users[user]["deleted"]:
                    raise ValueError(f"{user!r} is no active user to pick")
        return {"type": kind, key: given}

    def view_submission_payload(
        self, view_id: str, values: dict[str, dict[str, Any]], *, user: str | None = None
    ) -> dict[str, Any]:
        """The view_submission payload of a person submitting the open modal `view_id` with
        `values` ({block_id: {action_id: value}}; a value is the wire state dict, e.g.
        {"type": "users_select", "selected_user": "U…"}, or a shorthand: the text, user id,
        option value (or a list of them for multi-selects)). Refuses what Slack's client would
        not send: ids not in the view, options not offered, empty required inputs, text
        outside min_length/max_length, a closed view, someone else's modal."""
        entry = self.views.get(view_id)
        if entry is None:
            raise ValueError(f"no view {view_id} was opened")
        if not entry["open"]:
            raise ValueError(f"view {view_id} is closed")
        user = user or entry["user"]
        if user != entry["user"]:
            raise ValueError(f"view {view_id} is open for {entry['user']}, not {user}")
        view = entry["view"]
        inputs = input_blocks(view)
        for block_id, by_action in values.items():
            block = inputs.get(block_id)
            if block is None:
                raise ValueError(f"view {view_id} has no input block {block_id!r}: {list(inputs)}")
            for action_id in by_action:
                if action_id != block["element"].get("action_id"):
                    raise ValueError(f"input block {block_id!r} has no action_id {action_id!r}")
        state: dict[str, dict[str, Any]] = {}
        for block_id, block in inputs.items():
            element = block["element"]
            given = values.get(block_id, {}).get(element["action_id"])
            value = self._state_value(element, given)
            self._check_input(block, value)
            state[block_id] = {element["action_id"]: value}
        submitted = json.loads(json.dumps(view)) | {"state": {"values": state}}
        return {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user_object(user),
            "api_app_id": self.app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._new_trigger_id(user),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }

    @staticmethod
    def _check_input(block: dict[str, Any], value: dict[str, Any]) -> None:
        """Slack's client checks these before it sends anything [doc: input block `optional`,
        plain_text_input `min_length`/`max_length`: "If the user provides less/more, they will
        receive an error"]."""
        element = block["element"]
        key = STATE_KEYS[element["type"]]
        empty = value.get(key) in (None, "", [])
        if empty and not block.get("optional", False):
            raise ValueError(f"input {block['block_id']!r} is required; Slack would not submit")
        if element["type"] == "plain_text_input" and not empty:
            text = value[key]
            low = element.get("min_length", 0)
            high = element.get("max_length", DEFAULT_TEXT_INPUT_MAX)
            if not low <= len(text) <= high:
                raise ValueError(
                    f"input {block['block_id']!r} takes {low}..{high} characters, not {len(text)}"
                )

    async def send_view_submission(
        self,
        url: str,
        view_id: str,
        values: dict[str, dict[str, Any]],
        *,
        user: str | None = None,
        **kw: Any,
    ) -> SentRequest:
        """Submit the open modal `view_id` (see `view_submission_payload`) and apply the app's
        answer to it: closed, kept open with `errors`, updated, pushed or cleared. Returns the
        HTTP answer (its JSON carries any `response_action`)."""
        payload = self.view_submission_payload(view_id, values, user=user)
        sent: SentRequest = await self.send_interactive(url, payload, **kw)
        if sent.status == 200 and sent.elapsed_s > VIEW_ANSWER_DEADLINE_S:
            # The modal shows Slack's error and stays as it was; the answer is dropped.
            self.view_anomalies.append({"view_id": view_id, "problem": "answered too late"})
        elif sent.status == 200:
            answer = None
            if sent.body.strip():
                try:
                    answer = sent.json()
                except ValueError:
                    self.view_anomalies.append({"view_id": view_id, "problem": "answer not JSON"})
                    return sent
            self._answer_to_view(view_id, answer)
        return sent

    async def socket_send_view_submission(
        self,
        view_id: str,
        values: dict[str, dict[str, Any]],
        *,
        user: str | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The same over Socket Mode; the ack's `payload` carries the response_action
        (`accepts_response_payload: true` for view submissions [guess])."""
        payload = self.view_submission_payload(view_id, values, user=user)
        ack: dict[str, Any] = await self.socket_send(
            "interactive", payload, timeout=timeout, accepts_response_payload=True
        )
        self._answer_to_view(view_id, ack.get("payload"))
        return ack
