"""Which files are media, where the bot token may go, and the download's redirect handling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.errors import FileAccessError, TooLargeError
from bot.slack.files import (
    download_slack_file,
    hidden_file_error,
    is_file_stub,
    is_media_file,
    media_files,
    token_allowed,
)

API = "https://slack.com/api/"
LOCAL_API = "http://127.0.0.1:8080/api/"


@pytest.mark.parametrize(
    ("url", "api_url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/a.m4a", API, True),
        ("https://slack.com/x", API, True),
        ("https://acme.enterprise.slack.com/files/a", API, True),
        ("https://a.slack-edge.com/x", API, True),
        ("http://files.slack.com/x", API, False),  # never in clear text
        ("https://slack.com.evil.example/x", API, False),
        ("https://evilslack.com/x", API, False),
        ("https://files.slack.com@evil.example/x", API, False),
        ("https://example.com/x", API, False),
        ("http://127.0.0.1:8080/files/a", LOCAL_API, True),
        ("http://127.0.0.1:8081/files/a", LOCAL_API, False),  # another port is another host
        ("http://127.0.0.2:8080/files/a", LOCAL_API, False),
        # GovSlack runs on slack-gov.com and its subdomains (api.slack-gov.com/gov-slack/about).
        ("https://files.slack-gov.com/files-pri/T1-F1/download/a.m4a", API, True),
        ("https://slack-gov.com/x", API, True),
        ("https://agency.slack-gov.com/files/a", API, True),
        ("http://files.slack-gov.com/x", API, False),
        ("https://slack-gov.com.evil.example/x", API, False),
        ("https://evilslack-gov.com/x", API, False),
        ("https://files.slack-gov.com@evil.example/x", API, False),
    ],
)
def test_token_allowed(url: str, api_url: str, allowed: bool) -> None:
    assert token_allowed(url, api_url) is allowed


@pytest.mark.parametrize(
    ("file", "media"),
    [
        ({"mimetype": "audio/mp4", "filetype": "m4a"}, True),
        ({"mimetype": "audio/webm", "filetype": "webm", "subtype": "slack_audio"}, True),
        ({"mimetype": "video/quicktime", "filetype": "mov"}, True),
        ({"mimetype": "application/octet-stream", "filetype": "amr"}, True),
        ({"mimetype": "", "filetype": "", "media_display_type": "audio"}, True),
        ({"mimetype": "application/pdf", "filetype": "pdf"}, False),
        ({"mimetype": "image/png", "filetype": "png"}, False),
        ({"mimetype": "audio/mp4", "filetype": "m4a", "is_external": True}, False),
        ({"mimetype": "audio/mp4", "filetype": "m4a", "mode": "tombstone"}, False),
        ({"mimetype": "text/plain", "filetype": "huddle_transcript"}, False),
    ],
)
def test_is_media_file(file: dict[str, object], media: bool) -> None:
    assert is_media_file(file) is media


#: What Slack Connect channels and some DMs carry instead of the file (slack-wire.md §1.4b).
STUB = {
    "id": "F1",
    "mode": "file_access",
    "file_access": "check_file_info",
    "created": 0,
    "timestamp": 0,
    "user": "",
}
#: A file past a free workspace's limit (Slack changelog 2019-03-wild-west-for-files-no-more).
HIDDEN = {"id": "F2", "mode": "hidden_by_limit"}
AUDIO = {"id": "F3", "mimetype": "audio/mp4", "filetype": "m4a", "mode": "hosted"}
PDF = {"id": "F4", "mimetype": "application/pdf", "filetype": "pdf", "mode": "hosted"}


@pytest.mark.parametrize(
    ("file", "stub"),
    [
        (STUB, True),
        ({"id": "F1", "file_access": "check_file_info"}, True),
        (HIDDEN, False),
        (AUDIO, False),
        ({**AUDIO, "file_access": "visible"}, False),
        ({"id": "F5", "mode": "file_access", "file_access": "access_denied"}, False),
    ],
)
def test_is_file_stub(file: dict[str, object], stub: bool) -> None:
    assert is_file_stub(file) is stub
    assert is_media_file(file) is (file.get("mimetype") == "audio/mp4")


def test_media_files_keeps_what_may_be_media_and_what_must_be_explained() -> None:
    files = [PDF, STUB, AUDIO, HIDDEN, {"mode": "file_access"}, "F9", {**STUB, "id": ""}]
    assert media_files(files) == [STUB, AUDIO, HIDDEN]  # type: ignore[arg-type]
    assert media_files(None) == []


@pytest.mark.parametrize("file", [STUB, AUDIO, PDF, {"id": "F6", "mode": "tombstone"}])
def test_no_hidden_file_error_for_visible_files(file: dict[str, object]) -> None:
    assert hidden_file_error(file) is None


def test_hidden_file_error_says_what_happened_and_what_to_do() -> None:
    error = hidden_file_error(HIDDEN)
    assert isinstance(error, FileAccessError)
    assert error.reason == "hidden_by_limit"
    text = str(error)
    assert "hidden" in text and "plan" in text
    assert "upload" in text.lower()  # what to do: share the recording again


class Hosts:
    """Two local hosts: 127.0.0.1 plays Slack (the API host), 127.0.0.2 a foreign CDN."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.runners: list[web.AppRunner] = []
        self.slack = ""
        self.foreign = ""

    async def start(self) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            self.seen.append((request.host, request.headers.get("Authorization")))
            if request.path == "/to-foreign":
                raise web.HTTPFound(self.foreign + "/file")
            if request.path == "/to-slack":
                raise web.HTTPFound(self.slack + "/file")
            if request.path == "/loop":
                raise web.HTTPFound("/loop")
            if request.path == "/big":
                return web.Response(body=b"x" * 5000, content_type="audio/mp4")
            return web.Response(body=b"AUDIO", content_type="audio/mp4")

        for host in ("127.0.0.1", "127.0.0.2"):
            app = web.Application()
            app.router.add_get("/{tail:.*}", handler)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, host, 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.runners.append(runner)
            url = f"http://{host}:{port}"
            if host == "127.0.0.1":
                self.slack = url
            else:
                self.foreign = url

    async def close(self) -> None:
        for runner in self.runners:
            await runner.cleanup()


@pytest.fixture
async def hosts() -> AsyncIterator[Hosts]:
    h = Hosts()
    await h.start()
    try:
        yield h
    finally:
        await h.close()


async def fetch(hosts: Hosts, path: str, dest: Path, max_bytes: int = 10_000) -> int:
    async with aiohttp.ClientSession() as session:
        return await download_slack_file(
            session,
            hosts.slack + path,
            dest,
            token="xoxb-secret",
            api_url=hosts.slack + "/api/",
            max_bytes=max_bytes,
        )


async def test_redirect_to_a_foreign_host_drops_the_token(hosts: Hosts, tmp_path: Path) -> None:
    n = await fetch(hosts, "/to-foreign", tmp_path / "f")
    assert n == 5 and (tmp_path / "f").read_bytes() == b"AUDIO"
    assert hosts.seen[0] == (hosts.slack.removeprefix("http://"), "Bearer xoxb-secret")
    assert hosts.seen[1] == (hosts.foreign.removeprefix("http://"), None)


async def test_redirect_within_slack_keeps_the_token(hosts: Hosts, tmp_path: Path) -> None:
    await fetch(hosts, "/to-slack", tmp_path / "f")
    assert [auth for _, auth in hosts.seen] == ["Bearer xoxb-secret"] * 2


async def test_a_redirect_loop_ends_in_a_clear_error(hosts: Hosts, tmp_path: Path) -> None:
    with pytest.raises(FileAccessError, match="too many redirects"):
        await fetch(hosts, "/loop", tmp_path / "f")


async def test_size_limit_is_enforced_from_the_headers(hosts: Hosts, tmp_path: Path) -> None:
    with pytest.raises(TooLargeError, match="limit here is"):
        await fetch(hosts, "/big", tmp_path / "f", max_bytes=1000)


async def test_a_foreign_first_url_is_never_requested(hosts: Hosts, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(FileAccessError, match="outside Slack"):
            await download_slack_file(
                session,
                hosts.foreign + "/file",
                tmp_path / "f",
                token="xoxb-secret",
                api_url=hosts.slack + "/api/",
                max_bytes=10_000,
            )
    assert hosts.seen == []
