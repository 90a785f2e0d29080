"""A local Slack for tests: Web API, file hosting, signed inbound traffic and Socket Mode.

The real slack_sdk / slack_bolt clients talk to it over HTTP (`base_url=emu.api_url`); it checks
tokens, scopes, arguments, Block Kit limits and rate limits the way Slack does (slack-wire.md).
Modules: slack_web_api (methods), slack_blocks (Block Kit), slack_views (trigger_ids, modals),
slack_interactivity (block_actions, view_submission), slack_deletions (chat.delete,
files.delete, people deleting), slack_inbound (signed requests, Socket Mode), slack_files.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from bot.slack.scopes import BOT_SCOPES
from tests.emulators.slack_blocks import check_blocks
from tests.emulators.slack_deletions import DeletionsMixin
from tests.emulators.slack_files import FileHostingMixin
from tests.emulators.slack_inbound import InboundMixin
from tests.emulators.slack_interactivity import InteractivityMixin
from tests.emulators.slack_views import TRIGGER_TTL_S, ViewsMixin
from tests.emulators.slack_web_api import WebApiMixin, channel_kind
from tests.emulators.slack_wire import (
    METHOD_SCOPES,
    ApiCall,
    DownloadRecord,
    RateLimiter,
    SentRequest,
    SlackApiFailure,
    sign,
)

__all__ = [
    "ApiCall",
    "DownloadRecord",
    "SentRequest",
    "SlackEmulator",
    "check_blocks",
    "sign",
]

DEFAULT_SCOPES = BOT_SCOPES  # what manifest.yml asks for (tests/test_manifest.py)
APP_TOKEN_SCOPES = ("connections:write",)


class SlackEmulator(
    WebApiMixin,
    FileHostingMixin,
    InboundMixin,
    InteractivityMixin,
    ViewsMixin,
    DeletionsMixin,
):
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-bot-token",
        app_token: str = "xapp-1-test-app-token",
        signing_secret: str = "test-signing-secret",
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
        team_domain: str = "scribe-test",
        scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
        rate_limits: bool = True,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.team_domain = team_domain
        self.scopes = tuple(scopes)
        self.rate_limits = rate_limits
        self._limiter = RateLimiter()

        self.api_url = ""
        self.base_url = ""
        self.alt_base_url = (
            ""  # a second host (127.0.0.2) serving the same files, for token-leak tests
        )

        self.calls: list[ApiCall] = []
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.files: dict[
            str, dict[str, Any]
        ] = {}  # id -> {"file": obj, content/path, visible_to_bot}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.reactions: dict[tuple[str, str], set[str]] = {}
        self.reaction_log: list[tuple[str, str, str, str]] = []
        self.uploads: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.deletes: list[dict[str, Any]] = []  # chat.delete: channel, ts, message, events
        self.file_deletes: list[dict[str, Any]] = []  # files.delete: file, event
        self.ephemerals: list[dict[str, Any]] = []
        self.response_url_posts: list[dict[str, Any]] = []
        #: Seconds the response_url endpoint waits before it answers (0: at once).
        self.response_url_delay_s = 0.0
        self.home_views: dict[str, dict[str, Any]] = {}
        # Modals: views.open answers, in order; by id the view now, its user, whether open.
        self.views_opened: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_anomalies: list[dict[str, Any]] = []  # app answers Slack would not honour
        self.trigger_ttl_s = TRIGGER_TTL_S  # tests may lower it, or age_trigger()
        self.triggers: dict[str, dict[str, Any]] = {}
        self.file_downloads: list[DownloadRecord] = []
        self.thread_anomalies: list[dict[str, Any]] = []  # thread_ts naming no message / a reply
        self.sent_events: list[dict[str, Any]] = []
        self.socket_envelopes: list[dict[str, Any]] = []
        self.socket_acks: list[dict[str, Any]] = []
        self.socket_connected = asyncio.Event()

        self.pending_uploads: dict[str, dict[str, Any]] = {}
        self.upload_tickets: dict[str, str] = {}
        self.response_urls: dict[str, dict[str, Any]] = {}
        self.socket_tickets: set[str] = set()
        self._faults: dict[str, list[tuple[str, int, int | None]]] = defaultdict(list)
        self._hooks: dict[str, tuple[Callable[[int], Awaitable[None]], list[int]]] = {}
        self._drops: dict[str, list[int]] = defaultdict(list)
        self._url_paths: dict[str, str] = {}
        self._ts_counter = 0
        self._file_counter = 0
        self._event_counter = 0
        self._ack_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._socket: web.WebSocketResponse | None = None
        self._socket_connections = 0
        self._runner: web.AppRunner | None = None
        self._sockets: list[socket.socket] = []
        self.session: aiohttp.ClientSession | None = None

        self.add_user(bot_user_id, name="scribe", real_name="Scribe", is_bot=True)
        self.add_user("U0ALICE", name="alice", real_name="Alice Liddell", display_name="alice")
        self.add_channel("C0GENERAL", name="general")

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=2 << 30)
        app.router.add_route("*", "/api/{method}", self._api_endpoint)
        app.router.add_post("/upload/v1/{ticket}", self._upload_endpoint)
        app.router.add_get("/files-pri/{tail:.*}", self._file_endpoint)
        app.router.add_get("/files-tmb/{tail:.*}", self._file_endpoint)
        app.router.add_get("/", self._sign_in_page)
        app.router.add_post("/response_url/{key}", self._response_url_endpoint)
        app.router.add_get("/link/", self._link_endpoint)
        app.router.add_get("/link", self._link_endpoint)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        ports = []
        for host in ("127.0.0.1", "127.0.0.2"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            self._sockets.append(sock)
            await web.SockSite(self._runner, sock).start()
            ports.append(sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{ports[0]}"
        self.alt_base_url = f"http://127.0.0.2:{ports[1]}"
        self.api_url = f"{self.base_url}/api/"
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        for waiter in self._ack_waiters.values():
            waiter.cancel()
        if self._socket is not None:
            await self._socket.close()
        if self.session is not None:
            await self.session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        for sock in self._sockets:
            sock.close()

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- world state --------------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        is_im: bool = False,
        is_mpim: bool = False,
        bot_is_member: bool = True,
        is_archived: bool = False,
        user: str | None = None,
        members: set[str] | None = None,
        is_ext_shared: bool = False,
        topic: str = "",
        purpose: str = "",
    ) -> None:
        """Add a conversation. `members` None means every user may see it.

        `topic` and `purpose` are what conversations.info shows (`{value, creator,
        last_set}`; Slack caps a topic at 250 characters and a purpose at 250).

        `is_ext_shared`: a Slack Connect channel, whose messages carry file stubs
        (`file_access: check_file_info`) instead of files, in events and in history alike.
        """
        self.channels[channel_id] = {
            "id": channel_id,
            "name": None if is_im else (name or channel_id.lower()),
            "is_private": is_private or is_im or is_mpim,
            "is_im": is_im,
            "is_mpim": is_mpim,
            "is_archived": is_archived,
            "bot_is_member": bot_is_member,
            "user": user,
            "members": members,
            "is_ext_shared": is_ext_shared,
            "created": 1690000000,
            "topic": topic[:250],
            "purpose": purpose[:250],
        }
        self.messages.setdefault(channel_id, [])

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str,
        display_name: str = "",
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "Europe/London",
        tz_offset: int = 0,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
    ) -> None:
        """A person (or bot user) as users.info shows it (docs.slack.dev user object):
        admins and owners, guests (`is_restricted`; single-channel guests are also
        `is_ultra_restricted`), deactivated accounts (`deleted`)."""
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": tz_offset,
            "profile": {
                "real_name": real_name,
                "real_name_normalized": real_name,
                "display_name": display_name,
                "display_name_normalized": display_name,
                "image_72": f"https://avatars.slack-edge.com/{user_id}_72.png",
                "team": self.team_id,
                **({"bot_id": self.bot_id} if is_bot else {}),
            },
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1690000000,
        }

    def _channel_object(self, channel: dict[str, Any]) -> dict[str, Any]:
        kind = channel_kind(channel)
        obj: dict[str, Any] = {
            "id": channel["id"],
            "created": channel["created"],
            "is_archived": channel["is_archived"],
            "is_im": channel["is_im"],
            "is_org_shared": False,
            "context_team_id": self.team_id,
        }
        if kind == "im":
            obj |= {"user": channel["user"], "is_user_deleted": False, "priority": 0}
        else:
            obj |= {
                "name": channel["name"],
                "name_normalized": channel["name"],
                "is_channel": kind == "channel",
                "is_group": kind == "group",
                "is_mpim": kind == "mpim",
                "is_private": channel["is_private"],
                "is_general": channel["id"] == "C0GENERAL",
                "is_shared": channel["is_ext_shared"],
                "is_ext_shared": channel["is_ext_shared"],
                "is_member": channel["bot_is_member"],
                "creator": "U0ALICE",
                "topic": _text_field(channel.get("topic") or ""),
                "purpose": _text_field(channel.get("purpose") or ""),
            }
        return obj

    def _next_ts(self) -> str:
        # Unique and increasing across the workspace, like Slack's message ts.
        self._ts_counter += 100
        return f"{1700000000 + self._ts_counter // 1_000_000}.{self._ts_counter % 1_000_000:06d}"

    def _store_message(
        self, channel_id: str, message: dict[str, Any], thread_ts: str | None
    ) -> dict[str, Any]:
        message["ts"] = self._next_ts()
        if thread_ts:
            parent = self._find_message(channel_id, thread_ts)
            if parent is None:
                # Slack still posts this; recorded so tests can assert it never happens.
                self.thread_anomalies.append(
                    {"kind": "dangling", "channel": channel_id, "thread_ts": thread_ts}
                )
                message["thread_ts"] = thread_ts
                message["dangling_thread"] = True
            else:
                root_ts = parent.get("thread_ts") or parent["ts"]
                if root_ts != thread_ts:
                    self.thread_anomalies.append(
                        {"kind": "reply_ts", "channel": channel_id, "thread_ts": thread_ts}
                    )
                root = self._find_message(channel_id, root_ts) or parent
                message["thread_ts"] = root_ts
                message["parent_user_id"] = root.get("user", "")
                root["thread_ts"] = root_ts
                root["reply_count"] = root.get("reply_count", 0) + 1
                users = root.setdefault("reply_users", [])
                if message.get("user") and message["user"] not in users:
                    users.append(message["user"])
                root["reply_users_count"] = len(users)
                root["latest_reply"] = message["ts"]
        self.messages.setdefault(channel_id, []).append(message)
        return message

    def post_user_message(
        self,
        channel: str,
        *,
        user: str = "U0ALICE",
        text: str = "",
        files: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
        thread_ts: str | None = None,
        file_stubs: bool | None = None,
    ) -> dict[str, Any]:
        """Record a user's message in `channel`; returns the `message` event Slack would send.

        `file_stubs`: the message carries file stubs rather than files (in its event and in
        history), as Slack Connect channels do and some DMs do; None means "if the channel
        is a Slack Connect channel".
        """
        if channel not in self.channels:
            raise KeyError(f"unknown channel {channel}; add_channel() it first")
        blocks = []
        if text:
            blocks = [
                {
                    "type": "rich_text",
                    "block_id": secrets.token_hex(2),
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
                    ],
                }
            ]
        message: dict[str, Any] = {
            "type": "message",
            "text": text,
            "user": user,
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
            "blocks": blocks,
        }
        if files:
            message |= {
                "subtype": "file_share",
                "upload": False,
                "display_as_bot": False,
                "files": [self.files[f["id"]]["file"] for f in files],
            }
        self._store_message(channel, message, thread_ts)
        for f in files:
            self._share_file(f["id"], channel, message)
        if files:
            message["files"] = [copy.deepcopy(self.files[f["id"]]["file"]) for f in files]
            if file_stubs:
                message["stub_files"] = True
        event = self._wire_message(channel, message)
        event |= {
            "channel": channel,
            "channel_type": channel_kind(self.channels[channel]),
            "event_ts": message["ts"],
        }
        return event

    def bot_replies(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted in `channel` (only replies in that thread, if given)."""
        return [
            m
            for m in self.messages.get(channel, [])
            if m.get("bot_id") == self.bot_id
            and (thread_ts is None or (m.get("thread_ts") == thread_ts and m["ts"] != thread_ts))
        ]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    # --- fault injection ----------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: str = "ratelimited",
        *,
        status: int = 200,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """The next `times` calls of `method` answer {"ok": false, "error": error}."""
        if error == "ratelimited" and status == 200:
            status = 429
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults[method].extend([(error, status, retry_after)] * times)

    def before(self, method: str, hook: Callable[[int], Awaitable[None]]) -> None:
        """Await `hook(n)` before the n-th call (from 1) of `method` is answered.

        The hook may delay the answer (a slow or stalled Slack) or raise a
        `SlackApiFailure` (a refusal); the call is then answered as usual.
        """
        self._hooks[method] = (hook, [0])

    # --- Web API ------------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], str | None]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            params |= {k: v for k, v in form.items()}
        else:
            raw = await request.read()
            if raw and request.content_type == "application/json":
                try:
                    body = json.loads(raw)
                except ValueError as e:
                    raise SlackApiFailure("invalid_json") from e
                if not isinstance(body, dict):
                    raise SlackApiFailure("invalid_json")
                params |= body
            elif raw:
                params |= dict(parse_qsl(raw.decode(), keep_blank_values=True))
        token = params.pop("token", None)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth.removeprefix("Bearer ").strip()
        return params, token

    async def _api_endpoint(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = ApiCall(
            method=method,
            params={},
            headers=dict(request.headers),
            token=None,
            http_method=request.method,
        )
        self.calls.append(call)
        headers: dict[str, str] = {}
        try:
            call.params, call.token = await self._read_params(request)
            body = await self._answer(method, call.params, call.token, headers)
            status = 200
        except SlackApiFailure as failure:
            body, status = failure.body(), failure.status
        call.status, call.response = status, body
        return web.json_response(body, status=status, headers=headers)

    async def _answer(
        self, method: str, params: dict[str, Any], token: str | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        handler_name = self.METHODS.get(method)
        if handler_name is None:
            # Slack answers unknown methods with a 404 and this body [guess on the status].
            raise SlackApiFailure("unknown_method", status=404, req_method=method)
        if not token:
            raise SlackApiFailure("not_authed")
        if token not in (self.bot_token, self.app_token):
            raise SlackApiFailure("invalid_auth")
        is_app_token = token == self.app_token
        if is_app_token != (method == "apps.connections.open"):
            raise SlackApiFailure("not_allowed_token_type")
        granted = APP_TOKEN_SCOPES if is_app_token else self.scopes
        headers["x-oauth-scopes"] = ",".join(granted)
        needed = METHOD_SCOPES.get(method)
        if needed:
            headers["x-accepted-oauth-scopes"] = needed
            if needed not in granted:
                raise SlackApiFailure("missing_scope", needed=needed, provided=",".join(granted))
        if method in self._hooks:
            hook, calls = self._hooks[method]
            calls[0] += 1
            await hook(calls[0])
        if self._faults.get(method):
            error, status, retry_after = self._faults[method].pop(0)
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            raise SlackApiFailure(error, status=status)
        if self.rate_limits:
            wait = self._limiter.check(method, params.get("channel") or params.get("channel_id"))
            if wait is not None:
                headers["Retry-After"] = str(wait)
                raise SlackApiFailure("ratelimited", status=429)
        return await getattr(self, handler_name)(params)


def _text_field(value: str) -> dict[str, Any]:
    """A topic or purpose as conversations.info shows it; unset: empty value, no creator."""
    if not value:
        return {"value": "", "creator": "", "last_set": 0}
    return {"value": value, "creator": "U0ALICE", "last_set": 1690000100}


def signed_headers(secret: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    """Signature headers for a body, for tests that build their own requests."""
    ts = int(time.time()) if ts is None else ts
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sign(secret, body, ts)}
