"""Which Slack files are media, and a safe, streaming download of them.

The bot token is a key to the whole workspace's files, so it is sent only to
Slack's own hosts (and the configured API host, which tests point at an
emulator), re-checked at every redirect hop. Redirects are followed by hand for
that reason: aiohttp would follow them itself, deciding alone where the header goes.

A file in an event or a message is not always the whole file: Slack Connect channels
(and some DMs) carry a stub that only `files.info` can complete, and a free workspace
redacts files past its plan's limit. Both are kept as candidates, so that the job
that runs later can look the file up and either transcribe it or say why not.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.errors import FileAccessError, TooLargeError

logger = logging.getLogger(__name__)

# GovSlack is the same service on its own domain: "GovSlack does not run on the slack.com
# domain. Instead, it runs on the separate domain slack-gov.com" (api.slack-gov.com/gov-slack/
# about); its files come from files.slack-gov.com. No GovSlack CDN domain is documented, so
# none is trusted.
_SLACK_HOSTS = ("slack.com", "slack-gov.com")
_SLACK_HOST_SUFFIXES = (".slack.com", ".slack-edge.com", ".slack-gov.com")
_MAX_REDIRECTS = 5
_CHUNK = 256 * 1024

#: File types Slack reports for audio and video (its `filetype` field).
_MEDIA_FILETYPES = frozenset(
    {
        "aac", "aiff", "aif", "amr", "flac", "m4a", "mp3", "mpga", "oga", "ogg", "opus",
        "wav", "wma", "weba", "webm", "3gp", "3gpp", "avi", "m4v", "mkv", "mov", "mp4",
        "mpg", "mpeg", "qt", "wmv", "caf",
    }
)  # fmt: skip


def is_media_file(file: dict[str, Any]) -> bool:
    """True for audio and video files, judged from Slack's metadata (content is probed later)."""
    if file.get("mode") in ("external", "tombstone", "snippet", "post") or file.get("is_external"):
        return False
    mimetype = str(file.get("mimetype") or "").lower()
    if mimetype.startswith(("audio/", "video/")):
        return True
    if file.get("subtype") in ("slack_audio", "slack_video"):
        return True
    if file.get("media_display_type") in ("audio", "video"):
        return True
    return str(file.get("filetype") or "").lower() in _MEDIA_FILETYPES


def is_file_stub(file: dict[str, Any]) -> bool:
    """A Slack Connect (or DM) stub: an id and `file_access: check_file_info`, nothing else.

    Slack's file_share reference, "Slack Connect files": the rest comes from `files.info`.
    """
    return file.get("file_access") == "check_file_info"


def is_hidden_by_limit(file: dict[str, Any]) -> bool:
    """A file the workspace's free plan hides (Slack changelog 2019-03: `mode: hidden_by_limit`)."""
    return file.get("mode") == "hidden_by_limit"


def media_files(files: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The files worth a job: media, stubs (maybe media), and hidden files (to be explained)."""
    return [
        f
        for f in files or []
        if isinstance(f, dict)
        and f.get("id")
        and (is_media_file(f) or is_file_stub(f) or is_hidden_by_limit(f))
    ]


def hidden_file_error(file: dict[str, Any]) -> FileAccessError | None:
    """The message for a file that the workspace's plan hides, or None for a visible file.

    Call it on the object from `files.info`, before `is_media_file`: a hidden file has no
    name or type left, and would otherwise be taken for "not audio or video".
    """
    if not is_hidden_by_limit(file):
        return None
    return FileAccessError(
        "I can't open this file: it is hidden by this workspace's plan limit (on Slack's "
        "free plan, older messages and files are hidden). Upload the recording again to "
        "share a fresh copy, or ask a workspace admin about a paid plan, then ask me again.",
        reason="hidden_by_limit",
    )


def token_allowed(url: str, api_url: str) -> bool:
    """May the bot token be sent to this URL? Only Slack's hosts and the API host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and (host in _SLACK_HOSTS or host.endswith(_SLACK_HOST_SUFFIXES)):
        return True
    api = urlsplit(api_url)
    return (
        parts.scheme == api.scheme
        and host == (api.hostname or "").lower()
        and parts.port == api.port
    )


async def download_slack_file(
    session: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    token: str,
    api_url: str,
    max_bytes: int,
    file_name: str = "this file",
) -> int:
    """Stream `url` into `dest`; return the byte count. Raises FileAccessError/TooLargeError."""
    if not token_allowed(url, api_url):
        raise FileAccessError(
            f"I won't download {file_name}: its link points outside Slack "
            f"({urlsplit(url).hostname}), and I only send my Slack credentials to Slack. "
            "Upload the file to Slack directly and ask again.",
            reason="foreign_host",
        )
    for _hop in range(_MAX_REDIRECTS + 1):
        headers = {"Authorization": f"Bearer {token}"} if token_allowed(url, api_url) else {}
        async with session.get(url, headers=headers, allow_redirects=False) as resp:
            if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                url = urljoin(url, resp.headers["Location"])
                continue
            if resp.status != 200:
                raise FileAccessError(
                    f"Slack answered HTTP {resp.status} when I tried to download {file_name}. "
                    "Try again in a minute; if it persists, re-share the file.",
                    reason="download_http",
                )
            return await _save(resp, dest, max_bytes=max_bytes, file_name=file_name)
    raise FileAccessError(
        f"Downloading {file_name} went through too many redirects; re-share the file.",
        reason="download_redirects",
    )


async def _save(resp: aiohttp.ClientResponse, dest: Path, *, max_bytes: int, file_name: str) -> int:
    if resp.content_type == "text/html":
        raise _sign_in_page(file_name)
    declared = resp.content_length
    if declared is not None and declared > max_bytes:
        raise too_large(file_name, declared, max_bytes)
    written = 0
    try:
        with dest.open("wb") as out:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                if written == 0 and chunk.lstrip()[:15].lower().startswith(
                    (b"<!doctype", b"<html")
                ):
                    raise _sign_in_page(file_name)
                written += len(chunk)
                if written > max_bytes:
                    raise too_large(file_name, written, max_bytes)
                out.write(chunk)
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
        raise FileAccessError(
            f"The download of {file_name} from Slack was cut off. Try again in a minute "
            "(mention me in this thread).",
            reason="download_interrupted",
        ) from exc
    if declared is not None and written != declared:
        raise FileAccessError(
            f"The download of {file_name} from Slack was cut off ({written} of {declared} "
            "bytes). Try again in a minute (mention me in this thread).",
            reason="download_interrupted",
        )
    return written


def _sign_in_page(file_name: str) -> FileAccessError:
    return FileAccessError(
        f"I can't open {file_name}: Slack showed me a sign-in page instead of the file, which "
        "means I am not allowed to see it. Invite me to this channel (`/invite @slack-scribe`) "
        "and make sure the app has the `files:read` scope, then ask again.",
        reason="not_visible",
    )


def too_large(file_name: str, size: int, limit: int) -> TooLargeError:
    return TooLargeError(
        f"{file_name} is {_mib(size)}; the limit here is {_mib(limit)}. Share a shorter "
        "recording, or only its audio track."
    )


def _mib(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    return f"{n / 1024**2:.0f} MB" if n >= 1024**2 else f"{max(1, n // 1024)} KB"
