"""File hosting of the Slack emulator: url_private downloads, the sign-in page, upload URLs.

Mixed into SlackEmulator; state lives there.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from aiohttp import web

from tests.emulators.slack_web_api import channel_kind
from tests.emulators.slack_wire import DownloadRecord

CHUNK = 1 << 20

SIGN_IN_PAGE = """<!DOCTYPE html>
<html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>
<body><h1>Sign in to Scribe Test</h1>
<form action="/signin" method="post">
<input type="email" name="email"><button>Sign in</button></form>
</body></html>
"""

PRETTY_TYPES = {
    "m4a": "MPEG 4 Audio",
    "mp4": "MPEG 4 Video",
    "webm": "WebM",
    "mp3": "MP3",
    "wav": "WAV",
    "ogg": "Ogg Vorbis",
    "mov": "QuickTime Movie",
    "text": "Plain Text",
    "txt": "Plain Text",
}


class FileHostingMixin:
    """Files: their objects, their bytes over HTTP, and the files_upload_v2 upload URL."""

    def _new_file_id(self) -> str:
        self._file_counter += 1
        return f"F0{self._file_counter:08d}"

    def add_file(
        self,
        content: bytes | None = None,
        *,
        path: Path | str | None = None,
        name: str = "audio_message.m4a",
        mimetype: str = "audio/mp4",
        filetype: str = "m4a",
        user: str = "U0ALICE",
        subtype: str | None = None,
        duration_ms: int | None = None,
        channel: str | None = None,
        visible_to_bot: bool = True,
        download_host: str | None = None,
        extra: dict[str, Any] | None = None,
        file_id: str | None = None,
    ) -> dict[str, Any]:
        """Host a file; returns its files.info-shaped object (slack-wire.md §1.4/1.5)."""
        if (content is None) == (path is None):
            raise ValueError("give exactly one of content or path")
        path = Path(path) if path is not None else None
        size = len(content) if content is not None else path.stat().st_size  # type: ignore[union-attr]
        file_id = file_id or self._new_file_id()
        host = (download_host or self.base_url).rstrip("/")
        key = f"{self.team_id}-{file_id}"
        created = int(time.time())
        media = "unknown"
        if mimetype.startswith("audio/") or subtype == "slack_audio":
            media = "audio"
        elif mimetype.startswith("video/"):
            media = "video"
        obj: dict[str, Any] = {
            "id": file_id,
            "created": created,
            "timestamp": created,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": PRETTY_TYPES.get(filetype, filetype.upper()),
            "user": user,
            "user_team": self.team_id,
            "editable": False,
            "size": size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
        }
        if subtype == "slack_audio":
            # Clips point at a transcoded AAC-in-MP4 under files-tmb, whatever `name` says.
            tmb = f"{key}-{secrets.token_hex(5)}"
            obj["subtype"] = subtype
            obj["url_private"] = f"{host}/files-tmb/{tmb}/audio_message_audio.mp4"
            obj["url_private_download"] = f"{host}/files-tmb/{tmb}/download/audio_message_audio.mp4"
            obj["aac"] = obj["url_private"]
        else:
            if subtype:
                obj["subtype"] = subtype
            obj["url_private"] = f"{host}/files-pri/{key}/{quote(name)}"
            obj["url_private_download"] = f"{host}/files-pri/{key}/download/{quote(name)}"
        if duration_ms is not None:
            obj["duration_ms"] = duration_ms
        obj |= {
            "media_display_type": media,
            "permalink": f"https://{self.team_domain}.slack.com/files/{user}/{file_id}/{quote(name)}",
            "permalink_public": f"https://slack-files.com/{key}-{secrets.token_hex(5)}",
            "is_starred": False,
            "shares": {},
            "channels": [],
            "groups": [],
            "ims": [],
            "has_more_shares": False,
            "has_rich_preview": False,
            "file_access": "visible",
            "comments_count": 0,
        }
        if channel:
            obj[self._share_bucket(channel)[1]].append(channel)
        obj |= extra or {}
        self.files[file_id] = {
            "file": obj,
            "content": content,
            "path": path,
            "visible_to_bot": visible_to_bot,
        }
        for url in (obj["url_private"], obj["url_private_download"]):
            self._url_paths[urlparse(url).path] = file_id
        return copy.deepcopy(obj)

    def _share_bucket(self, channel_id: str) -> tuple[str, str]:
        channel = self.channels.get(channel_id)
        kind = channel_kind(channel) if channel else "channel"
        if kind == "channel":
            return "public", "channels"
        return "private", "ims" if kind == "im" else "groups"

    def _share_file(self, file_id: str, channel_id: str, message: dict[str, Any]) -> None:
        obj = self.files[file_id]["file"]
        scope, listing = self._share_bucket(channel_id)
        if channel_id not in obj[listing]:
            obj[listing].append(channel_id)
        share = {
            "reply_users": [],
            "reply_users_count": 0,
            "reply_count": 0,
            "ts": message["ts"],
            "channel_name": self.channels.get(channel_id, {}).get("name") or channel_id,
            "team_id": self.team_id,
            "share_user_id": message.get("user", ""),
        }
        if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
            share["thread_ts"] = message["thread_ts"]
        obj["shares"].setdefault(scope, {}).setdefault(channel_id, []).insert(0, share)

    def hide_file_by_limit(self, file_id: str) -> None:
        """The workspace's free plan now hides this file: tombstones everywhere, no download."""
        self.files[file_id]["hidden_by_limit"] = True

    def drop_download_after(self, file_id: str, nbytes: int, *, times: int = 1) -> None:
        """The next `times` downloads of the file are cut off after `nbytes` bytes."""
        self._drops[file_id].extend([nbytes] * times)

    async def _upload_endpoint(self, request: web.Request) -> web.Response:
        upload = self.pending_uploads.get(request.match_info["ticket"])
        if upload is None:
            return web.Response(status=404, text="Not Found", content_type="text/plain")
        upload["content"] = await request.read()
        upload["authorization"] = request.headers.get("Authorization")
        return web.Response(text=f"OK - {len(upload['content'])}", content_type="text/plain")

    # --- file hosting -------------------------------------------------------------------------

    async def _sign_in_page(self, request: web.Request) -> web.Response:
        return web.Response(text=SIGN_IN_PAGE, content_type="text/html")

    async def _file_endpoint(self, request: web.Request) -> web.StreamResponse:
        file_id = self._url_paths.get(request.path)
        auth = request.headers.get("Authorization")
        record = DownloadRecord(
            path=request.path, authorization=auth, host=request.host, file_id=file_id
        )
        self.file_downloads.append(record)
        if file_id is None:
            record.status = 404
            return web.Response(status=404, text=SIGN_IN_PAGE, content_type="text/html")
        stored = self.files[file_id]
        authorized = (
            auth == f"Bearer {self.bot_token}"
            and "files:read" in self.scopes
            and stored["visible_to_bot"]
            and not stored.get("hidden_by_limit")
            and not stored.get("deleted")  # [guess] a deleted file's URLs lead nowhere
        )
        if not authorized:
            # Slack sends unauthenticated downloads to the workspace sign-in page (HTML, 200).
            record.status = 302
            raise web.HTTPFound(f"{self.base_url}/?redir={quote(request.path, safe='')}")
        record.status = 200
        obj = stored["file"]
        headers = {"Content-Type": obj["mimetype"]}
        if "/download/" in request.path:
            headers["Content-Disposition"] = f'attachment; filename="{obj["name"]}"'
        drops = self._drops.get(file_id)
        if drops:
            return await self._serve_truncated(request, stored, drops.pop(0), headers)
        if stored["path"] is not None:
            return web.FileResponse(stored["path"], chunk_size=CHUNK, headers=headers)
        return web.Response(body=stored["content"], headers=headers)

    async def _serve_truncated(
        self, request: web.Request, stored: dict[str, Any], nbytes: int, headers: dict[str, str]
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers=headers)
        resp.content_length = stored["file"]["size"]
        await resp.prepare(request)
        if stored["path"] is not None:
            with open(stored["path"], "rb") as f:
                head = f.read(nbytes)
        else:
            head = stored["content"][:nbytes]
        await resp.write(head)
        await asyncio.sleep(0.05)  # let the bytes reach the client before the reset
        transport = request.transport
        if transport is not None:
            transport.abort()
        return resp
