"""Deleting messages and files in the Slack emulator: chat.delete, files.delete, and people
deleting their own, with the events Slack sends (mixed into SlackEmulator; state lives there).

Sources: [api-ref] slack-ruby/slack-api-ref methods/chat/chat.delete.json and
files/files.delete.json (arguments, answers, errors); [doc] docs.slack.dev events
message/message_deleted, message/message_changed, file_deleted; [3p] real payloads quoted in
public projects: a thread parent deleted with replies becomes a `tombstone` sent as
message_changed (42wim/matterbridge#600, 2018; openclaw/openclaw#22035, 2026), the tombstone's
fields (hackclub/toriel#238, 2024), message_deleted with `previous_message` and `channel_type`
(slack-edge/slack-edge#10, 2024), deleted files as `{"id", "mode": "tombstone"}` in messages
(wee-slack/wee-slack#641, 2018; rusq/slackdump#270, 2024).
"""

from __future__ import annotations

from typing import Any

from tests.emulators.slack_web_api import channel_kind, require
from tests.emulators.slack_wire import SlackApiFailure

TOMBSTONE_TEXT = "This message was deleted."
THREAD_KEYS = ("thread_ts", "reply_count", "reply_users", "reply_users_count", "latest_reply")


class DeletionsMixin:
    """chat.delete, files.delete, and deletions by people."""

    bot_id: str
    bot_user_id: str
    users: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    files: dict[str, dict[str, Any]]
    messages: dict[str, list[dict[str, Any]]]
    reactions: dict[tuple[str, str], set[str]]
    deletes: list[dict[str, Any]]
    file_deletes: list[dict[str, Any]]

    # --- Web API ------------------------------------------------------------------------------

    async def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        ts = str(require(params, "ts", "message_not_found"))
        message = self._find_message(channel["id"], ts)
        if message is None:
            raise SlackApiFailure("message_not_found")
        if message.get("bot_id") != self.bot_id:
            # [doc] chat.delete: "When used with a bot token, this method may delete only
            # messages posted by that bot" -> cant_delete_message (also for tombstones).
            raise SlackApiFailure("cant_delete_message")
        previous = self._wire_message(channel["id"], message)
        events = self._remove_message(channel["id"], message)
        self.deletes.append(
            {"channel": channel["id"], "ts": ts, "message": previous, "events": events}
        )
        return {"ok": True, "channel": channel["id"], "ts": ts}

    async def _files_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(require(params, "file", "file_not_found"))
        record = self.files.get(file_id)
        if record is None or not record["visible_to_bot"]:
            raise SlackApiFailure("file_not_found")
        if record.get("deleted"):
            raise SlackApiFailure("file_deleted")
        if record["file"]["user"] != self.bot_user_id:
            # [api-ref] cant_delete_file: "Authenticated user does not have permission to
            # delete this file"; a bot token owns only the files it uploaded.
            raise SlackApiFailure("cant_delete_file")
        event = self._remove_file(file_id)
        self.file_deletes.append({"file": file_id, "event": event})
        return {"ok": True}

    # --- people -------------------------------------------------------------------------------

    def delete_user_message(
        self, channel: str, ts: str, *, by: str | None = None
    ) -> list[dict[str, Any]]:
        """Someone deletes a message; returns the `message` events Slack sends, in order (send
        them with `send_event`): `message_deleted`, or `message_changed` to a tombstone when
        the message is a thread parent with replies; a reply that was a tombstone's last also
        takes the tombstone with it (a second `message_deleted`).

        `by` (default: the author) must be the author, or a workspace admin or owner.
        """
        message = self._find_message(channel, ts)
        if message is None:
            raise KeyError(f"no message {ts} in {channel}")
        if message.get("subtype") == "tombstone":
            raise ValueError("a tombstone goes away with its last reply; it is not deleted")
        by = by or message.get("user", "")
        person = self.users.get(by, {})
        if by != message.get("user") and not (person.get("is_admin") or person.get("is_owner")):
            raise ValueError(f"{by} may not delete {message.get('user')}'s message")
        return self._remove_message(channel, message)

    def delete_user_file(self, file_id: str, *, by: str | None = None) -> dict[str, Any]:
        """Someone deletes a file; returns the `file_deleted` event Slack sends. Afterwards
        files.info answers `file_deleted` and messages show `{"id", "mode": "tombstone"}`."""
        record = self.files[file_id]
        if record.get("deleted"):
            raise ValueError(f"{file_id} is already deleted")
        by = by or record["file"]["user"]
        person = self.users.get(by, {})
        if by != record["file"]["user"] and not (person.get("is_admin") or person.get("is_owner")):
            raise ValueError(f"{by} may not delete {record['file']['user']}'s file")
        return self._remove_file(file_id)

    # --- state --------------------------------------------------------------------------------

    def _remove_file(self, file_id: str) -> dict[str, Any]:
        self.files[file_id]["deleted"] = True
        # [doc] file_deleted: only the id ("Unlike most file events, the file property
        # contains a file ID" — java-slack-sdk FileDeletedEvent: file_id, event_ts).
        return {"type": "file_deleted", "file_id": file_id, "event_ts": self._next_ts()}

    def _message_event(self, channel: str, subtype: str, **fields: Any) -> dict[str, Any]:
        ts = self._next_ts()
        return {
            "type": "message",
            "subtype": subtype,
            "hidden": True,
            "channel": channel,
            "ts": ts,
            "event_ts": ts,
            **fields,
            "channel_type": channel_kind(self.channels[channel]),
        }

    def _remove_message(self, channel: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Delete `message` from the store; the events Slack sends for it, in order."""
        previous = self._wire_message(channel, message)
        ts = message["ts"]
        stored = self.messages[channel]
        self.reactions.pop((channel, ts), None)
        replies = [m for m in stored if m.get("thread_ts") == ts and m["ts"] != ts]
        if replies:
            # A thread parent with replies stays as a tombstone, the replies under it [3p].
            kept = {k: message[k] for k in THREAD_KEYS if k in message}
            message.clear()
            message.update(
                type="message",
                subtype="tombstone",
                text=TOMBSTONE_TEXT,
                user="USLACKBOT",
                hidden=True,
                ts=ts,
                parent_user_id="USLACKBOT",
                is_locked=False,
                subscribed=False,
                **kept,
            )
            tombstone = self._wire_message(channel, message)
            return [
                self._message_event(
                    channel, "message_changed", message=tombstone, previous_message=previous
                )
            ]
        stored.remove(message)
        events = [
            self._message_event(
                channel, "message_deleted", deleted_ts=ts, previous_message=previous
            )
        ]
        root_ts = message.get("thread_ts")
        root = self._find_message(channel, root_ts) if root_ts and root_ts != ts else None
        if root is not None:
            left = sorted(
                (m for m in stored if m.get("thread_ts") == root_ts and m["ts"] != root_ts),
                key=lambda m: tuple(int(p) for p in m["ts"].split(".")),
            )
            users: list[str] = []
            for reply in left:
                if reply.get("user") and reply["user"] not in users:
                    users.append(reply["user"])
            root.update(
                reply_count=len(left),
                reply_users=users,
                reply_users_count=len(users),
                latest_reply=left[-1]["ts"] if left else "0000000000.000000",
            )
            if not left and root.get("subtype") == "tombstone":
                # The tombstone leaves with its last reply: a message_deleted whose
                # previous_message is the tombstone (reply_count 0, latest_reply zeros) [3p].
                events += self._remove_message(channel, root)
            elif not left:
                # [guess] a parent whose only reply went is a plain message again.
                for key in THREAD_KEYS:
                    root.pop(key, None)
        return events
