"""Traffic from Slack to the app: signed HTTP requests and the Socket Mode server.

Mixed into SlackEmulator; state lives there.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from tests.emulators.slack_blocks import check_blocks
from tests.emulators.slack_wire import SentRequest, sign

SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
VERIFICATION_TOKEN = "legacy-verification-token"

# Socket Mode envelope types whose ack may carry a response payload (slack-wire.md §5).
ACCEPTS_RESPONSE_PAYLOAD = {"slash_commands": True, "events_api": False, "interactive": False}


class InboundMixin:
    """Sends events/commands/shortcuts to the app and runs the /link websocket."""

    session: aiohttp.ClientSession | None
    socket_connected: asyncio.Event

    # --- envelopes ----------------------------------------------------------------------------

    def _new_event_id(self) -> str:
        self._event_counter += 1
        return f"Ev{self._event_counter:010d}"

    def event_envelope(
        self, event: dict[str, Any], *, event_id: str | None = None
    ) -> dict[str, Any]:
        """An event_callback envelope as Slack delivers it (slack-wire.md §1.1)."""
        context = {
            "et": event.get("type", ""),
            "tid": self.team_id,
            "aid": self.app_id,
            "cid": event.get("channel") or event.get("channel_id") or "",
        }
        context_b64 = base64.urlsafe_b64encode(json.dumps(context).encode()).decode().rstrip("=")
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or self._new_event_id(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": bool(
                self.channels.get(str(context["cid"]), {}).get("is_ext_shared")
            ),
            "event_context": "4-" + context_b64,
        }

    def file_shared_event(
        self, file: dict[str, Any], *, channel: str, user: str | None = None
    ) -> dict:
        """The `file_shared` event Slack sends alongside a file_share message (ids only)."""
        return {
            "type": "file_shared",
            "channel_id": channel,
            "file_id": file["id"],
            "user_id": user or file.get("user", ""),
            "file": {"id": file["id"]},
            "event_ts": self._next_ts(),
        }

    def app_mention_event(self, message: dict[str, Any]) -> dict[str, Any]:
        """The `app_mention` event for a user message that mentions the bot."""
        event = {
            k: message[k]
            for k in (
                "client_msg_id",
                "text",
                "user",
                "ts",
                "team",
                "blocks",
                "channel",
                "event_ts",
            )
            if k in message
        }
        if message.get("thread_ts"):
            event["thread_ts"] = message["thread_ts"]
        if message.get("files"):
            event["files"] = message["files"]
        return {"type": "app_mention", **event}

    # --- signed HTTP --------------------------------------------------------------------------

    async def post_signed(
        self,
        url: str,
        body: bytes,
        *,
        content_type: str,
        bad_signature: bool = False,
        timestamp: int | None = None,
        extra_headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> SentRequest:
        """POST `body` to the app signed like Slack does; measures how long the answer took."""
        assert self.session is not None, "call start() first"
        ts = int(time.time()) if timestamp is None else timestamp
        secret = self.signing_secret + ("-wrong" if bad_signature else "")
        headers = {
            "Content-Type": content_type,
            "User-Agent": SLACK_USER_AGENT,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(secret, body, ts),
            **(extra_headers or {}),
        }
        started = time.perf_counter()
        async with self.session.post(
            url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as resp:
            text = await resp.text()
            elapsed = time.perf_counter() - started
            return SentRequest(
                status=resp.status,
                body=text,
                elapsed_s=elapsed,
                headers=dict(resp.headers),
                request_body=body,
            )

    async def send_event(
        self,
        url: str,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        bad_signature: bool = False,
        timestamp: int | None = None,
        timeout: float = 10.0,
    ) -> SentRequest:
        """Deliver `event` in an event_callback envelope; reuse an event_id to simulate a retry."""
        envelope = self.event_envelope(event, event_id=event_id)
        return await self.send_envelope(
            url,
            envelope,
            retry_num=retry_num,
            retry_reason=retry_reason,
            bad_signature=bad_signature,
            timestamp=timestamp,
            timeout=timeout,
        )

    async def send_envelope(
        self,
        url: str,
        envelope: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        bad_signature: bool = False,
        timestamp: int | None = None,
        timeout: float = 10.0,
    ) -> SentRequest:
        """Deliver an exact JSON envelope (a resend from `sent_events`, url_verification, ...)."""
        extra = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        body = json.dumps(envelope).encode()
        self.sent_events.append(envelope)
        sent = await self.post_signed(
            url,
            body,
            content_type="application/json",
            bad_signature=bad_signature,
            timestamp=timestamp,
            extra_headers=extra,
            timeout=timeout,
        )
        sent.event_id = envelope.get("event_id")
        return sent

    async def send_url_verification(self, url: str, *, challenge: str | None = None) -> SentRequest:
        """The handshake Slack sends when a Request URL is saved (slack-wire.md §1.2)."""
        envelope = {
            "token": VERIFICATION_TOKEN,
            "challenge": challenge or secrets.token_urlsafe(36),
            "type": "url_verification",
        }
        return await self.send_envelope(url, envelope)

    def _new_response_url(self, context: dict[str, Any]) -> str:
        key = secrets.token_hex(8)
        self.response_urls[key] = {**context, "uses": 0}
        return f"{self.base_url}/response_url/{key}"

    def slash_command_payload(
        self,
        *,
        text: str = "",
        channel: str = "C0GENERAL",
        user: str = "U0ALICE",
        command: str = "/transcribe",
    ) -> dict[str, str]:
        response_url = self._new_response_url(
            {"channel": channel, "user": user, "command": command}
        )
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel,
            "channel_name": self.channels.get(channel, {}).get("name") or channel,
            "user_id": user,
            "user_name": self.users.get(user, {}).get("name", user),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self._new_trigger_id(user),
        }

    async def send_slash_command(
        self,
        url: str,
        *,
        text: str = "",
        channel: str = "C0GENERAL",
        user: str = "U0ALICE",
        command: str = "/transcribe",
        bad_signature: bool = False,
        timeout: float = 10.0,
    ) -> SentRequest:
        form = self.slash_command_payload(text=text, channel=channel, user=user, command=command)
        sent = await self.post_signed(
            url,
            urlencode(form).encode(),
            content_type="application/x-www-form-urlencoded",
            bad_signature=bad_signature,
            timeout=timeout,
        )
        sent.response_url = form["response_url"]
        return sent

    def message_shortcut_payload(
        self,
        *,
        message: dict[str, Any],
        channel: str = "C0GENERAL",
        user: str = "U0ALICE",
        callback_id: str = "transcribe_message",
    ) -> dict[str, Any]:
        public = {
            k: v for k, v in message.items() if k not in ("channel", "channel_type", "event_ts")
        }
        return {
            "type": "message_action",
            "token": VERIFICATION_TOKEN,
            "action_ts": self._next_ts(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": {
                "id": user,
                "name": self.users.get(user, {}).get("name", user),
                "team_id": self.team_id,
            },
            "channel": {
                "id": channel,
                "name": self.channels.get(channel, {}).get("name") or channel,
            },
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._new_trigger_id(user),
            "message_ts": message["ts"],
            "message": {"type": "message", "team": self.team_id, **public},
            "response_url": self._new_response_url({"channel": channel, "user": user}),
        }

    async def send_interactive(self, url: str, payload: dict[str, Any], **kw: Any) -> SentRequest:
        """POST an interactivity payload as Slack does: form field `payload` holding JSON."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        sent = await self.post_signed(
            url, body, content_type="application/x-www-form-urlencoded", **kw
        )
        sent.response_url = payload.get("response_url")
        return sent

    async def send_message_shortcut(
        self,
        url: str,
        *,
        message: dict[str, Any],
        channel: str = "C0GENERAL",
        user: str = "U0ALICE",
        callback_id: str = "transcribe_message",
        **kw: Any,
    ) -> SentRequest:
        payload = self.message_shortcut_payload(
            message=message, channel=channel, user=user, callback_id=callback_id
        )
        return await self.send_interactive(url, payload, **kw)

    async def send_global_shortcut(
        self, url: str, *, callback_id: str, user: str = "U0ALICE", **kw: Any
    ) -> SentRequest:
        payload = {
            "type": "shortcut",
            "token": VERIFICATION_TOKEN,
            "action_ts": self._next_ts(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": {
                "id": user,
                "username": self.users.get(user, {}).get("name", user),
                "team_id": self.team_id,
            },
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._new_trigger_id(user),
        }
        return await self.send_interactive(url, payload, **kw)

    async def _response_url_endpoint(self, request: web.Request) -> web.Response:
        record = self.response_urls.get(request.match_info["key"])
        if record is None:
            return web.Response(status=404, text="invalid_token", content_type="text/plain")
        if self.response_url_delay_s:  # hooks.slack.com having a slow moment
            await asyncio.sleep(self.response_url_delay_s)
        record["uses"] += 1
        # Documented: usable up to 5 times within 30 minutes; the error text here is a guess.
        if record["uses"] > 5:
            return web.Response(status=404, text="used_url", content_type="text/plain")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload", content_type="text/plain")
        self.response_url_posts.append({"url": str(request.url), **record, "body": body})
        original = None
        if record.get("message_ts"):  # a block action's response_url knows its message [doc]
            original = self._find_message(record["channel"], record["message_ts"])
            if original is not None and original.get("bot_id") != self.bot_id:
                original = None  # only the app's own messages can be replaced or deleted
        if original is not None and body.get("delete_original"):
            self._remove_message(record["channel"], original)
            return web.Response(text="ok", content_type="text/plain")
        if original is not None and body.get("replace_original"):
            # The answers to a bad replacement are not recorded; 400 with the error [guess].
            problem = check_blocks(body.get("blocks", []))
            if problem is not None or not (body.get("text") or body.get("blocks")):
                error = problem[0] if problem else "no_text"
                return web.Response(status=400, text=error, content_type="text/plain")
            original.update(text=body.get("text", ""), blocks=body.get("blocks", []))
            return web.Response(text="ok", content_type="text/plain")
        if body.get("response_type") == "in_channel" and record.get("channel") in self.channels:
            channel = self.channels[record["channel"]]
            self._bot_message(
                channel,
                body.get("thread_ts"),
                text=body.get("text", ""),
                blocks=body.get("blocks", []),
            )
        return web.Response(text="ok", content_type="text/plain")

    # --- Socket Mode --------------------------------------------------------------------------

    async def _link_endpoint(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.socket_tickets:
            return web.Response(status=401, text="invalid ticket")
        self.socket_tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._socket = ws
        self._socket_connections += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {
                    "host": "applink-emulator",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        self.socket_connected.set()
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                self.socket_acks.append(data)
                waiter = self._ack_waiters.pop(data.get("envelope_id", ""), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(data)
        finally:
            if self._socket is ws:
                self._socket = None
                self.socket_connected.clear()
        return ws

    async def socket_send(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5.0,
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
    ) -> dict[str, Any]:
        """Send one envelope to the connected client and return its ack (TimeoutError if none)."""
        await asyncio.wait_for(self.socket_connected.wait(), timeout)
        ws = self._socket
        assert ws is not None
        envelope_id = envelope_id or str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = ACCEPTS_RESPONSE_PAYLOAD.get(type, False)
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
            "payload": payload,
        }
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._ack_waiters[envelope_id] = waiter
        self.socket_envelopes.append(envelope)
        await ws.send_json(envelope)
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self._ack_waiters.pop(envelope_id, None)

    async def socket_send_event(
        self, event: dict[str, Any], *, event_id: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        envelope = self.event_envelope(event, event_id=event_id)
        self.sent_events.append(envelope)
        return await self.socket_send("events_api", envelope, **kw)

    async def socket_send_slash_command(self, **kw: Any) -> dict[str, Any]:
        timeout = kw.pop("timeout", 5.0)
        return await self.socket_send(
            "slash_commands", self.slash_command_payload(**kw), timeout=timeout
        )

    async def socket_send_message_shortcut(self, **kw: Any) -> dict[str, Any]:
        timeout = kw.pop("timeout", 5.0)
        return await self.socket_send(
            "interactive", self.message_shortcut_payload(**kw), timeout=timeout
        )

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does before rotating a connection."""
        if self._socket is not None:
            await self._socket.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-emulator"}}
            )
