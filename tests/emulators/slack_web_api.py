"""Web API method handlers of the Slack emulator (mixed into SlackEmulator).

Each handler takes the merged request params and returns the JSON body of an `ok` answer, or
raises SlackApiFailure with the error Slack documents for that case.
"""

from __future__ import annotations

import copy
import json
import secrets
from typing import Any, ClassVar

from tests.emulators.slack_blocks import MAX_MESSAGE_TEXT, MAX_VIEW_BLOCKS, check_blocks
from tests.emulators.slack_wire import (
    HISTORY_SCOPES,
    READ_SCOPES,
    SlackApiFailure,
    decode_cursor,
    encode_cursor,
)

TRUNCATION_WARNING = (
    "[WARN] Your message was truncated but still posted. "
    "The `text` field accepts up to 40,000 characters."
)


def json_arg(value: Any, name: str) -> Any:
    """Args like `blocks` arrive as JSON strings in form/query bodies and as JSON in JSON bodies."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as e:
            raise SlackApiFailure(
                f"invalid_{name}_format"
                if name in ("blocks", "attachments")
                else "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] invalid JSON [json-pointer:/{name}]"]},
            ) from e
    return value


def require(params: dict[str, Any], name: str, error: str = "invalid_arguments") -> Any:
    value = params.get(name)
    if value is None or value == "":
        if error == "invalid_arguments":
            raise SlackApiFailure(
                error, response_metadata={"messages": [f"[ERROR] missing required field: {name}"]}
            )
        raise SlackApiFailure(error)
    return value


def channel_kind(channel: dict[str, Any]) -> str:
    if channel["is_im"]:
        return "im"
    if channel["is_mpim"]:
        return "mpim"
    return "group" if channel["is_private"] else "channel"


class WebApiMixin:
    """Method handlers; state lives on SlackEmulator."""

    # Filled by SlackEmulator.__init__; declared for readers.
    channels: dict[str, dict[str, Any]]
    users: dict[str, dict[str, Any]]
    files: dict[str, dict[str, Any]]
    messages: dict[str, list[dict[str, Any]]]

    METHODS: ClassVar[dict[str, str]] = {
        "auth.test": "_auth_test",
        "chat.postMessage": "_chat_post_message",
        "chat.update": "_chat_update",
        "chat.postEphemeral": "_chat_post_ephemeral",
        "chat.getPermalink": "_chat_get_permalink",
        "chat.delete": "_chat_delete",  # slack_deletions.py
        "reactions.add": "_reactions_add",
        "reactions.remove": "_reactions_remove",
        "files.info": "_files_info",
        "conversations.history": "_conversations_history",
        "conversations.replies": "_conversations_replies",
        "conversations.info": "_conversations_info",
        "conversations.members": "_conversations_members",
        "users.info": "_users_info",
        "files.getUploadURLExternal": "_files_get_upload_url_external",
        "files.completeUploadExternal": "_files_complete_upload_external",
        "files.delete": "_files_delete",  # slack_deletions.py
        "views.publish": "_views_publish",
        "views.open": "_views_open",  # slack_views.py
        "apps.connections.open": "_apps_connections_open",
    }

    # --- helpers ------------------------------------------------------------------------------

    def _need_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise SlackApiFailure("missing_scope", needed=scope, provided=",".join(self.scopes))

    def _channel(self, channel_id: Any) -> dict[str, Any]:
        if not channel_id:
            raise SlackApiFailure("channel_not_found")
        channel_id = str(channel_id)
        if channel_id.startswith(("U", "W")) and channel_id in self.users:
            # Posting to a user ID opens (or reuses) the IM with that user.
            return self._im_with(channel_id)
        channel = self.channels.get(channel_id)
        if channel is None:
            raise SlackApiFailure("channel_not_found")
        return channel

    def _im_with(self, user_id: str) -> dict[str, Any]:
        for channel in self.channels.values():
            if channel["is_im"] and channel.get("user") == user_id:
                return channel
        im_id = "D" + user_id[1:]
        self.add_channel(im_id, is_im=True, user=user_id)
        return self.channels[im_id]

    def _visible_channel(self, channel_id: Any) -> dict[str, Any]:
        """A conversation the bot can see: a private one (group, mpim, im) only if it is in it.

        Slack answers `channel_not_found` for private conversations a token's user is not in,
        as if they did not exist (conversations.info/members/history method pages list it as
        "Value passed for channel was invalid") [doc + guess on the exact wording].
        """
        channel = self._channel(channel_id)
        if channel_kind(channel) != "channel" and not channel["bot_is_member"]:
            raise SlackApiFailure("channel_not_found")
        return channel

    def _readable_channel(self, channel_id: Any, scopes: dict[str, str]) -> dict[str, Any]:
        channel = self._visible_channel(channel_id)
        self._need_scope(scopes[channel_kind(channel)])
        if not channel["bot_is_member"] and scopes is HISTORY_SCOPES:
            raise SlackApiFailure("not_in_channel")
        return channel

    def _find_message(self, channel_id: str, ts: Any) -> dict[str, Any] | None:
        for message in self.messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        return None

    def _message_payload(self, params: dict[str, Any], *, truncate: bool = True) -> dict[str, Any]:
        """Validate text/blocks/attachments the way chat.postMessage and chat.update do.

        `truncate`: text over 40,000 characters is cut and posted (chat.postMessage), else
        refused with msg_too_long (see MAX_MESSAGE_TEXT for why).
        """
        text = params.get("text")
        blocks = params.get("blocks")
        attachments = params.get("attachments")
        markdown_text = params.get("markdown_text")
        if blocks is not None:
            blocks = json_arg(blocks, "blocks")
            problem = check_blocks(blocks)
            if problem is not None:
                error, messages = problem
                raise SlackApiFailure(
                    error,
                    errors=[m.removeprefix("[ERROR] ") for m in messages],
                    response_metadata={"messages": messages},
                )
        if attachments is not None:
            attachments = json_arg(attachments, "attachments")
            if not isinstance(attachments, list):
                raise SlackApiFailure("invalid_attachments")
            if len(attachments) > 100:
                raise SlackApiFailure("too_many_attachments")
        if markdown_text is not None:
            if text or blocks:
                raise SlackApiFailure("markdown_text_conflict")
            if len(str(markdown_text)) > 12_000:
                raise SlackApiFailure("msg_too_long")
        if not text and not blocks and not attachments and not markdown_text:
            raise SlackApiFailure("no_text")
        result: dict[str, Any] = {
            "text": str(text or markdown_text or ""),
            "blocks": blocks or [],
            "attachments": attachments or [],
            "truncated": False,
        }
        if len(result["text"]) > MAX_MESSAGE_TEXT:
            if not truncate:
                raise SlackApiFailure("msg_too_long")
            result["text"] = result["text"][:MAX_MESSAGE_TEXT]
            result["truncated"] = True
        return result

    def _wire_file(self, file: dict[str, Any], *, stub: bool) -> dict[str, Any]:
        """A file as a message (event or history) shows it: whole, a stub, or a tombstone
        (deleted, or hidden by the plan's limit)."""
        record = self.files.get(file.get("id", ""))
        if record is not None and record.get("deleted"):
            # A deleted file stays in its messages as a tombstone: no name, no URLs
            # (wee-slack/wee-slack#641; rusq/slackdump#270) [3p].
            return {"id": file["id"], "mode": "tombstone"}
        if record is not None and record.get("hidden_by_limit"):
            return hidden_by_limit(file["id"])
        if stub:
            return file_stub(file["id"])
        return copy.deepcopy(file)

    def _wire_message(self, channel_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """A stored message as Slack returns it in history, replies and events."""
        public = _public(message)
        if public.get("files"):
            channel = self.channels.get(channel_id) or {}
            stub = bool(message.get("stub_files") or channel.get("is_ext_shared"))
            public["files"] = [self._wire_file(f, stub=stub) for f in public["files"]]
        return public

    def _bot_message(self, channel: dict[str, Any], thread_ts: str | None, **fields: Any) -> dict:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.users[self.bot_user_id]["name"],
                "deleted": False,
                "team_id": self.team_id,
            },
            **fields,
        }
        return self._store_message(channel["id"], message, thread_ts)

    # --- methods ------------------------------------------------------------------------------

    async def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Scribe Test",
            "user": self.users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "is_enterprise_install": False,
        }

    async def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        if channel.get("is_archived"):
            raise SlackApiFailure("is_archived")
        if not channel["bot_is_member"] and not (
            channel_kind(channel) == "channel" and "chat:write.public" in self.scopes
        ):
            raise SlackApiFailure("not_in_channel")
        payload = self._message_payload(params)
        thread_ts = params.get("thread_ts") or None
        message = self._bot_message(
            channel,
            str(thread_ts) if thread_ts else None,
            text=payload["text"],
            blocks=payload["blocks"],
            **({"attachments": payload["attachments"]} if payload["attachments"] else {}),
            truncated=payload["truncated"],
        )
        answer: dict[str, Any] = {
            "ok": True,
            "channel": channel["id"],
            "ts": message["ts"],
            "message": _public(message),
        }
        if payload["truncated"]:
            answer["warning"] = "message_truncated"
            answer["response_metadata"] = {
                "messages": [TRUNCATION_WARNING],
                "warnings": ["message_truncated"],
            }
        return answer

    async def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        ts = require(params, "ts", "message_not_found")
        message = self._find_message(channel["id"], ts)
        if message is None:
            raise SlackApiFailure("message_not_found")
        if message.get("bot_id") != self.bot_id:
            raise SlackApiFailure("cant_update_message")
        payload = self._message_payload(params, truncate=False)
        message.update(
            text=payload["text"], blocks=payload["blocks"], truncated=payload["truncated"]
        )
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self.updates.append({"channel": channel["id"], "ts": ts, **payload})
        return {
            "ok": True,
            "channel": channel["id"],
            "ts": ts,
            "text": message["text"],
            "message": _public(message),
        }

    async def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        user = require(params, "user", "user_not_found")
        if user not in self.users:
            raise SlackApiFailure("user_not_found")
        members = channel.get("members")
        if members is not None and user not in members:
            raise SlackApiFailure("user_not_in_channel")
        if not channel["bot_is_member"]:
            raise SlackApiFailure("not_in_channel")
        payload = self._message_payload(params, truncate=False)
        message_ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel["id"],
                "user": user,
                "thread_ts": params.get("thread_ts"),
                "message_ts": message_ts,
                **payload,
            }
        )
        return {"ok": True, "message_ts": message_ts}

    async def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        ts = require(params, "message_ts", "message_not_found")
        message = self._find_message(channel["id"], ts)
        if message is None:
            raise SlackApiFailure("message_not_found")
        link = (
            f"https://{self.team_domain}.slack.com/archives/{channel['id']}/p{ts.replace('.', '')}"
        )
        if message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel['id']}"
        return {"ok": True, "channel": channel["id"], "permalink": link}

    def _reaction_target(self, params: dict[str, Any]) -> tuple[str, str, str]:
        if not params.get("timestamp") and not params.get("file"):
            raise SlackApiFailure("no_item_specified")
        channel = self._channel(params.get("channel"))
        name = str(require(params, "name", "invalid_name"))
        if ":" in name or " " in name:
            raise SlackApiFailure("invalid_name")
        ts = str(params["timestamp"])
        if self._find_message(channel["id"], ts) is None:
            raise SlackApiFailure("message_not_found")
        return channel["id"], ts, name

    async def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts, name = self._reaction_target(params)
        names = self.reactions.setdefault((channel, ts), set())
        if name in names:
            raise SlackApiFailure("already_reacted")
        names.add(name)
        self.reaction_log.append(("add", channel, ts, name))
        return {"ok": True}

    async def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts, name = self._reaction_target(params)
        names = self.reactions.get((channel, ts), set())
        if name not in names:
            raise SlackApiFailure("no_reaction")
        names.discard(name)
        self.reaction_log.append(("remove", channel, ts, name))
        return {"ok": True}

    async def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = require(params, "file", "file_not_found")
        record = self.files.get(file_id)
        if record is None or not record["visible_to_bot"]:
            raise SlackApiFailure("file_not_found")
        if record.get("deleted"):
            raise SlackApiFailure("file_deleted")
        if record.get("access_denied"):
            # files.info's documented errors: "access_denied: Unable to access the file
            # (slack connect)": a partner organisation's file the app may not open.
            raise SlackApiFailure("access_denied")
        return {
            "ok": True,
            "file": self._wire_file(record["file"], stub=False),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    async def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable_channel(params.get("channel"), HISTORY_SCOPES)
        top_level = [
            m
            for m in self.messages.get(channel["id"], [])
            if not m.get("thread_ts")
            or m["thread_ts"] == m["ts"]
            or m.get("subtype") == "thread_broadcast"
        ]
        newest_first = sorted(top_level, key=lambda m: _ts_key(m["ts"]), reverse=True)
        newest_first = _time_window(newest_first, params)
        page, more, next_cursor = _paginate(newest_first, params, default_limit=100)
        return {
            "ok": True,
            "messages": [self._wire_message(channel["id"], m) for m in page],
            "has_more": more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    async def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable_channel(params.get("channel"), HISTORY_SCOPES)
        ts = require(params, "ts")
        message = self._find_message(channel["id"], ts)
        if message is None:
            raise SlackApiFailure("thread_not_found")
        root_ts = message.get("thread_ts") or message["ts"]
        parent = self._find_message(channel["id"], root_ts) or message
        replies = [
            m
            for m in self.messages.get(channel["id"], [])
            if m.get("thread_ts") == root_ts and m["ts"] != root_ts
        ]
        replies = _time_window(sorted(replies, key=lambda m: _ts_key(m["ts"])), params)
        # The parent opens every page (observed behaviour callers must de-duplicate) [guess].
        page, more, next_cursor = _paginate(replies, params, default_limit=1000, reserve=1)
        return {
            "ok": True,
            "messages": [self._wire_message(channel["id"], m) for m in (parent, *page)],
            "has_more": more,
            "response_metadata": {"next_cursor": next_cursor},
        }

    async def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable_channel(params.get("channel"), READ_SCOPES)
        return {"ok": True, "channel": self._channel_object(channel)}

    def channel_members(self, channel: dict[str, Any]) -> list[str]:
        """Who is in a conversation: `members` (None: every active person), the bot if it is."""
        if channel["is_im"]:
            people = {channel["user"]}
        elif channel.get("members") is not None:
            people = set(channel["members"])
        else:
            people = {uid for uid, u in self.users.items() if not u["is_bot"] and not u["deleted"]}
        people.discard(self.bot_user_id)
        if channel["bot_is_member"]:
            people.add(self.bot_user_id)
        return sorted(people)

    async def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        # docs.slack.dev/reference/methods/conversations.members: scopes channels:read,
        # groups:read, im:read, mpim:read by channel type; cursor + limit (default 100; the
        # pagination guide caps a page at 1000); the last page has next_cursor "".
        channel = self._readable_channel(params.get("channel"), READ_SCOPES)
        members = self.channel_members(channel)
        try:
            limit = int(params.get("limit") or 100)
        except ValueError as e:
            raise SlackApiFailure("invalid_limit") from e
        limit = max(1, min(limit, 1000))
        start = 0
        if params.get("cursor"):
            after = decode_cursor(str(params["cursor"]), kind="user_id")
            if after not in members:
                raise SlackApiFailure("invalid_cursor")
            start = members.index(after)
        page = members[start : start + limit]
        more = start + limit < len(members)
        next_cursor = encode_cursor(members[start + limit], kind="user_id") if more else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}

    async def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(require(params, "user", "user_not_found"))
        if user is None:
            raise SlackApiFailure("user_not_found")
        return {"ok": True, "user": copy.deepcopy(user)}

    async def _files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = require(params, "filename")
        try:
            length = int(require(params, "length"))
        except ValueError as e:
            raise SlackApiFailure("invalid_arguments") from e
        file_id = self._new_file_id()
        ticket = secrets.token_hex(8)
        self.pending_uploads[ticket] = {
            "file_id": file_id,
            "filename": filename,
            "length": length,
            "alt_txt": params.get("alt_txt"),
            "snippet_type": params.get("snippet_type"),
            "content": None,
        }
        self.upload_tickets[file_id] = ticket
        upload_url = f"{self.base_url}/upload/v1/{ticket}"
        return {"ok": True, "upload_url": upload_url, "file_id": file_id}

    async def _files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = json_arg(require(params, "files"), "files")
        if not isinstance(entries, list) or not entries:
            raise SlackApiFailure("invalid_arguments")
        channel_ids: list[str] = []
        if params.get("channel_id"):
            channel_ids.append(str(params["channel_id"]))
        if params.get("channels"):
            channel_ids += [c for c in str(params["channels"]).split(",") if c]
        channels = [self._channel(c) for c in channel_ids]
        for channel in channels:
            if not channel["bot_is_member"]:
                raise SlackApiFailure("not_in_channel")
        thread_ts = params.get("thread_ts") or None
        if thread_ts and not channels:
            raise SlackApiFailure("invalid_arguments")
        pending = []
        for entry in entries:
            ticket = self.upload_tickets.get(entry.get("id") if isinstance(entry, dict) else None)
            upload = self.pending_uploads.get(ticket or "")
            if upload is None or upload["content"] is None:
                raise SlackApiFailure("file_not_found")
            pending.append((ticket, upload, entry))
        file_objects = []
        for ticket, upload, entry in pending:
            del self.pending_uploads[ticket]
            title = entry.get("title") or upload["filename"]
            file_obj = self.add_file(
                upload["content"],
                name=upload["filename"],
                mimetype=_guess_mimetype(upload["filename"]),
                filetype=upload["filename"].rsplit(".", 1)[-1]
                if "." in upload["filename"]
                else "text",
                user=self.bot_user_id,
                file_id=upload["file_id"],
                extra={"title": title},
            )
            file_objects.append(file_obj)
            for channel in channels or [None]:
                self.uploads.append(
                    {
                        "file_id": file_obj["id"],
                        "filename": upload["filename"],
                        "title": title,
                        "content": upload["content"],
                        "channel_id": channel["id"] if channel else None,
                        "thread_ts": thread_ts,
                        "initial_comment": params.get("initial_comment"),
                    }
                )
        for channel in channels:
            message = self._bot_message(
                channel,
                str(thread_ts) if thread_ts else None,
                text=str(params.get("initial_comment") or ""),
                blocks=[],
                files=[copy.deepcopy(f) for f in file_objects],
                upload=True,
                display_as_bot=False,
            )
            for file_obj in file_objects:
                self._share_file(file_obj["id"], channel["id"], message)
        return {
            "ok": True,
            "files": [copy.deepcopy(self.files[f["id"]]["file"]) for f in file_objects],
        }

    async def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = require(params, "user_id")
        if user_id not in self.users:
            raise SlackApiFailure("user_not_found")
        view = json_arg(require(params, "view"), "view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackApiFailure("invalid_arguments")
        problem = check_blocks(
            view.get("blocks", []), max_blocks=MAX_VIEW_BLOCKS, action_ids_per_message=False
        )
        if problem is not None:
            raise SlackApiFailure(problem[0], response_metadata={"messages": problem[1]})
        stored = {
            "id": f"V{len(self.home_views) + 1:010d}",
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "hash": secrets.token_hex(6),
            **view,
        }
        self.home_views[user_id] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    async def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = secrets.token_hex(12)
        self.socket_tickets.add(ticket)
        host = self.base_url.removeprefix("http://")
        return {"ok": True, "url": f"ws://{host}/link/?ticket={ticket}&app_id={self.app_id}"}


# --- pure helpers -----------------------------------------------------------------------------


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as Slack returns it (without the emulator's bookkeeping keys)."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k not in _PRIVATE_KEYS}


_PRIVATE_KEYS = {"truncated", "channel_id", "dangling_thread", "stub_files"}

#: What a Slack Connect channel (and some DMs) carries instead of a file: the app must call
#: files.info for the rest (docs.slack.dev/reference/events/message/file_share, "Slack Connect
#: files"; the same shape in a captured DM event, slack-wire.md §1.4b).
FILE_STUB = {"mode": "file_access", "file_access": "check_file_info", "created": 0, "timestamp": 0}


def file_stub(file_id: str) -> dict[str, Any]:
    return {"id": file_id, **FILE_STUB, "user": ""}


def hidden_by_limit(file_id: str) -> dict[str, Any]:
    """A file past a free workspace's storage limit, redacted to its id (Slack changelog
    2019-03 "Enforcing the 5 GB file upload limit": history, files.info and files.list all
    return `{"id": …, "mode": "hidden_by_limit"}`; today the free plan's limit is 90 days)."""
    return {"id": file_id, "mode": "hidden_by_limit"}


def _time_window(messages: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
    oldest = params.get("oldest")
    latest = params.get("latest")
    result = []
    for m in messages:
        key = _ts_key(m["ts"])
        if oldest and (
            key < _ts_key(str(oldest)) or (key == _ts_key(str(oldest)) and not inclusive)
        ):
            continue
        if latest and (
            key > _ts_key(str(latest)) or (key == _ts_key(str(latest)) and not inclusive)
        ):
            continue
        result.append(m)
    return result


def _paginate(
    items: list[dict[str, Any]], params: dict[str, Any], *, default_limit: int, reserve: int = 0
) -> tuple[list[dict[str, Any]], bool, str]:
    try:
        limit = int(params.get("limit") or default_limit)
    except ValueError as e:
        raise SlackApiFailure("invalid_limit") from e
    limit = max(1, min(limit, 1000) - reserve) if limit > reserve else 1
    start = 0
    if params.get("cursor"):
        after = decode_cursor(str(params["cursor"]))
        positions = [i for i, m in enumerate(items) if m["ts"] == after]
        if not positions:
            raise SlackApiFailure("invalid_cursor")
        start = positions[0]
    page = items[start : start + limit]
    more = start + limit < len(items)
    next_cursor = encode_cursor(items[start + limit]["ts"]) if more else ""
    return page, more, next_cursor


_MIMETYPES = {
    "txt": "text/plain",
    "md": "text/markdown",
    "srt": "text/plain",
    "vtt": "text/vtt",
    "json": "application/json",
    "pdf": "application/pdf",
}


def _guess_mimetype(filename: str) -> str:
    return _MIMETYPES.get(filename.rsplit(".", 1)[-1].lower(), "application/octet-stream")
