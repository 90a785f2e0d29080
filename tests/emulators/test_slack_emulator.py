"""The Slack emulator, exercised through the real slack_sdk / slack_bolt clients over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.emulators.slack import SlackEmulator, sign
from tests.emulators.slack_wire import READ_SCOPES


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator()
    await emulator.start()
    yield emulator
    await emulator.close()


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# --- tokens and scopes ----------------------------------------------------------------------


async def test_missing_token_is_not_authed_and_wrong_token_invalid_auth(emu: SlackEmulator) -> None:
    err = await api_error(AsyncWebClient(base_url=emu.api_url).auth_test())
    assert err.response.status_code == 200
    assert err.response["error"] == "not_authed"
    err = await api_error(AsyncWebClient(token="xoxb-nope", base_url=emu.api_url).auth_test())
    assert err.response["error"] == "invalid_auth"


async def test_token_form_param_is_accepted(emu: SlackEmulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(emu.api_url + "auth.test", data={"token": emu.bot_token}) as resp,
    ):
        body = await resp.json()
    assert body["ok"] is True
    assert body["user_id"] == "U0BOT"
    assert emu.calls_to("auth.test")[0].token == emu.bot_token


async def test_app_token_only_opens_connections(emu: SlackEmulator) -> None:
    app_client = AsyncWebClient(token=emu.app_token, base_url=emu.api_url)
    err = await api_error(app_client.chat_postMessage(channel="C0GENERAL", text="hi"))
    assert err.response["error"] == "not_allowed_token_type"
    bot = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
    err = await api_error(bot.apps_connections_open(app_token=emu.bot_token))
    assert err.response["error"] == "not_allowed_token_type"
    opened = await bot.apps_connections_open(app_token=emu.app_token)
    assert opened["url"].startswith("ws://127.0.0.1:")


async def test_missing_scope_names_needed_and_provided() -> None:
    async with SlackEmulator(scopes=("chat:write",)) as emu:
        client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
        auth = await client.auth_test()
        assert auth.headers["x-oauth-scopes"] == "chat:write"
        msg = emu.post_user_message("C0GENERAL", text="hi")
        err = await api_error(
            client.reactions_add(channel="C0GENERAL", timestamp=msg["ts"], name="eyes")
        )
        assert err.response["error"] == "missing_scope"
        assert err.response["needed"] == "reactions:write"
        assert err.response["provided"] == "chat:write"


async def test_unknown_method(client: AsyncWebClient) -> None:
    err = await api_error(client.api_call("nope.never"))
    assert err.response["error"] == "unknown_method"


# --- chat.postMessage -----------------------------------------------------------------------


async def test_post_message_in_thread_is_recorded_with_bot_identity(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = emu.post_user_message("C0GENERAL", text="clip")
    first = await client.chat_postMessage(channel="C0GENERAL", text="a", thread_ts=parent["ts"])
    second = await client.chat_postMessage(channel="C0GENERAL", text="b", thread_ts=parent["ts"])
    assert float(parent["ts"]) < float(first["ts"]) < float(second["ts"])
    assert first["message"]["bot_id"] == "B0BOT"
    assert first["message"]["user"] == "U0BOT"
    replies = emu.bot_replies("C0GENERAL", parent["ts"])
    assert [m["text"] for m in replies] == ["a", "b"]
    assert emu.thread_anomalies == []
    assert emu.calls_to("chat.postMessage")[0].params["thread_ts"] == parent["ts"]


async def test_post_message_to_unknown_thread_still_posts_but_is_recorded(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C0GENERAL", text="a", thread_ts="1600000000.000100")
    assert emu.thread_anomalies[0]["kind"] == "dangling"


@pytest.mark.parametrize(
    ("blocks", "error", "pointer"),
    [
        ([{"type": "divider"}] * 51, "invalid_blocks", "/blocks]"),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            "invalid_blocks",
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
            "invalid_blocks",
            "[json-pointer:/blocks/0/text]",
        ),
        ([{"type": "section"}], "invalid_blocks", "[json-pointer:/blocks/0]"),
        ([{"type": "sparkle"}], "invalid_blocks", "[json-pointer:/blocks/0]"),
        (
            [{"type": "markdown", "text": "x" * 6001}, {"type": "markdown", "text": "y" * 6000}],
            "msg_blocks_too_long",
            "12000",
        ),
    ],
    ids=["51-blocks", "section-3001", "header-151", "section-no-text", "unknown-type", "md-12001"],
)
async def test_post_message_enforces_block_limits(
    emu: SlackEmulator, client: AsyncWebClient, blocks: list[dict], error: str, pointer: str
) -> None:
    err = await api_error(client.chat_postMessage(channel="C0GENERAL", text="t", blocks=blocks))
    assert err.response["error"] == error
    assert any(pointer in m for m in err.response["response_metadata"]["messages"])
    assert emu.bot_replies("C0GENERAL") == []


async def test_post_message_accepts_blocks_at_the_limits(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] * 50
    await client.chat_postMessage(channel="C0GENERAL", text="t", blocks=blocks)
    # The same blocks sent as a JSON string in a form body, as some callers do.
    await client.api_call(
        "chat.postMessage",
        data={"channel": "C0GENERAL", "text": "t", "blocks": json.dumps(blocks[:2])},
    )
    assert [len(m["blocks"]) for m in emu.bot_replies("C0GENERAL")] == [50, 2]


async def test_post_message_argument_errors(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.add_channel("C0OTHER", name="other", bot_is_member=False)
    cases = [
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "C0OTHER", "text": "x"}, "not_in_channel"),
        ({"channel": "C0GENERAL"}, "no_text"),
    ]
    for args, error in cases:
        # api_call, not chat_postMessage: the SDK warns (an error here) when text is missing.
        err = await api_error(client.api_call("chat.postMessage", json=args))
        assert err.response["error"] == error


async def test_long_text_is_truncated_with_warning(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    resp = await client.chat_postMessage(channel="C0GENERAL", text="x" * 40_001)
    assert resp["response_metadata"]["warnings"] == ["message_truncated"]
    (stored,) = emu.bot_replies("C0GENERAL")
    assert stored["truncated"] is True
    assert len(stored["text"]) == 40_000


async def test_post_message_to_user_id_opens_im(emu: SlackEmulator, client: AsyncWebClient) -> None:
    resp = await client.chat_postMessage(channel="U0ALICE", text="hello")
    assert resp["channel"].startswith("D")
    assert emu.bot_replies(resp["channel"])[0]["text"] == "hello"


# --- rate limits and injected failures --------------------------------------------------------


async def test_injected_ratelimit_surfaces_429_with_retry_after(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    emu.fail("chat.postMessage", retry_after=7)
    err = await api_error(client.chat_postMessage(channel="C0GENERAL", text="x"))
    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "7"
    assert err.response["error"] == "ratelimited"
    await client.chat_postMessage(channel="C0GENERAL", text="x")  # only the next call failed


async def test_rate_limit_retry_handler_gets_through(emu: SlackEmulator) -> None:
    client = AsyncWebClient(
        token=emu.bot_token,
        base_url=emu.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    emu.fail("reactions.add", retry_after=0)
    msg = emu.post_user_message("C0GENERAL", text="x")
    await client.reactions_add(channel="C0GENERAL", timestamp=msg["ts"], name="eyes")
    assert [c.status for c in emu.calls_to("reactions.add")] == [429, 200]
    assert emu.reactions[("C0GENERAL", msg["ts"])] == {"eyes"}


async def test_post_message_bucket_is_per_channel(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    emu.add_channel("C0OTHER", name="other")
    for i in range(20):
        await client.chat_postMessage(channel="C0GENERAL", text=str(i))
    err = await api_error(client.chat_postMessage(channel="C0GENERAL", text="21"))
    assert err.response.status_code == 429
    assert int(err.response.headers["Retry-After"]) >= 1
    await client.chat_postMessage(channel="C0OTHER", text="fine")


async def test_injected_error_with_status(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.fail("files.info", "internal_error", status=500, times=2)
    f = emu.add_file(b"x")
    for _ in range(2):
        err = await api_error(client.files_info(file=f["id"]))
        assert err.response.status_code == 500
    assert (await client.files_info(file=f["id"]))["file"]["id"] == f["id"]


# --- reactions, files.info, users, conversations ---------------------------------------------


async def test_reactions_add_remove_errors(emu: SlackEmulator, client: AsyncWebClient) -> None:
    msg = emu.post_user_message("C0GENERAL", text="x")
    await client.reactions_add(channel="C0GENERAL", timestamp=msg["ts"], name="eyes")
    err = await api_error(
        client.reactions_add(channel="C0GENERAL", timestamp=msg["ts"], name="eyes")
    )
    assert err.response["error"] == "already_reacted"
    await client.reactions_remove(channel="C0GENERAL", timestamp=msg["ts"], name="eyes")
    err = await api_error(
        client.reactions_remove(channel="C0GENERAL", timestamp=msg["ts"], name="eyes")
    )
    assert err.response["error"] == "no_reaction"
    err = await api_error(client.reactions_add(channel="C0GENERAL", timestamp="1.2", name="x"))
    assert err.response["error"] == "message_not_found"
    assert emu.reaction_log == [
        ("add", "C0GENERAL", msg["ts"], "eyes"),
        ("remove", "C0GENERAL", msg["ts"], "eyes"),
    ]


async def test_files_info_and_users_info(emu: SlackEmulator, client: AsyncWebClient) -> None:
    clip = emu.add_file(
        b"abc",
        subtype="slack_audio",
        duration_ms=8458,
        name="audio_message.webm",
        mimetype="audio/webm",
        filetype="webm",
    )
    info = await client.files_info(file=clip["id"])
    assert info["file"]["subtype"] == "slack_audio"
    assert info["file"]["url_private_download"].endswith("/download/audio_message_audio.mp4")
    assert info["file"]["duration_ms"] == 8458
    hidden = emu.add_file(b"abc", visible_to_bot=False)
    err = await api_error(client.files_info(file=hidden["id"]))
    assert err.response["error"] == "file_not_found"
    user = await client.users_info(user="U0ALICE")
    assert user["user"]["real_name"] == "Alice Liddell"
    err = await api_error(client.users_info(user="U0NOBODY"))
    assert err.response["error"] == "user_not_found"


async def test_file_share_event_and_shares(emu: SlackEmulator, client: AsyncWebClient) -> None:
    clip = emu.add_file(b"abc")
    event = emu.post_user_message("C0GENERAL", files=[clip])
    assert event["subtype"] == "file_share"
    assert event["channel_type"] == "channel"
    assert event["files"][0]["id"] == clip["id"]
    info = await client.files_info(file=clip["id"])
    assert info["file"]["shares"]["public"]["C0GENERAL"][0]["ts"] == event["ts"]
    history = await client.conversations_history(channel="C0GENERAL")
    assert history["messages"][0]["files"][0]["id"] == clip["id"]


async def test_conversations_replies_paginates(emu: SlackEmulator, client: AsyncWebClient) -> None:
    parent = emu.post_user_message("C0GENERAL", text="parent")
    for i in range(5):
        emu.post_user_message("C0GENERAL", text=f"r{i}", thread_ts=parent["ts"])
    texts: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await client.conversations_replies(
            channel="C0GENERAL", ts=parent["ts"], limit=3, cursor=cursor
        )
        pages += 1
        assert page["messages"][0]["ts"] == parent["ts"]
        texts += [m["text"] for m in page["messages"][1:]]
        if not page["has_more"]:
            assert page["response_metadata"]["next_cursor"] == ""
            break
        cursor = page["response_metadata"]["next_cursor"]
    assert texts == ["r0", "r1", "r2", "r3", "r4"]
    assert pages == 3
    err = await api_error(client.conversations_replies(channel="C0GENERAL", ts="1.000001"))
    assert err.response["error"] == "thread_not_found"


# --- uploads --------------------------------------------------------------------------------


async def test_files_upload_v2_lands_in_thread(emu: SlackEmulator, client: AsyncWebClient) -> None:
    parent = emu.post_user_message("C0GENERAL", text="clip")
    resp = await client.files_upload_v2(
        content=b"full transcript",
        filename="transcript.txt",
        title="Transcript",
        channel="C0GENERAL",
        thread_ts=parent["ts"],
        initial_comment="Full transcript",
    )
    assert resp["file"]["title"] == "Transcript"
    (upload,) = emu.uploads
    assert upload["content"] == b"full transcript"
    assert upload["channel_id"] == "C0GENERAL"
    assert upload["thread_ts"] == parent["ts"]
    assert upload["initial_comment"] == "Full transcript"
    (posted,) = emu.bot_replies("C0GENERAL", parent["ts"])
    assert posted["files"][0]["id"] == resp["file"]["id"]
    step1 = emu.calls_to("files.getUploadURLExternal")[0]
    assert step1.params["length"] == str(len(b"full transcript"))


async def test_complete_upload_of_unknown_file_fails(client: AsyncWebClient) -> None:
    err = await api_error(
        client.files_completeUploadExternal(
            files=[{"id": "F0NOPE", "title": "x"}], channel_id="C0GENERAL"
        )
    )
    assert err.response["error"] == "file_not_found"


# --- downloads ------------------------------------------------------------------------------


async def test_download_needs_bot_token(emu: SlackEmulator, tmp_path: Path) -> None:
    media = tmp_path / "clip.m4a"
    media.write_bytes(b"\x00\x01" * 5000)
    f = emu.add_file(path=media)
    auth = {"Authorization": f"Bearer {emu.bot_token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f["url_private_download"], headers=auth) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == "10000"
            assert await resp.read() == media.read_bytes()
        for headers in ({}, {"Authorization": "Bearer xoxb-wrong"}):
            async with session.get(f["url_private_download"], headers=headers) as resp:
                assert resp.status == 200
                assert resp.content_type == "text/html"
                assert resp.history[0].status == 302
                assert "Sign in" in await resp.text()
    assert [d.authorization for d in emu.file_downloads[:3]] == [
        auth["Authorization"],
        None,
        "Bearer xoxb-wrong",
    ]


async def test_hidden_file_download_gives_sign_in_page(emu: SlackEmulator) -> None:
    f = emu.add_file(b"secret", visible_to_bot=False)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f["url_private"], headers={"Authorization": f"Bearer {emu.bot_token}"}) as resp,
    ):
        assert resp.content_type == "text/html"


async def test_download_host_records_what_it_saw(emu: SlackEmulator) -> None:
    f = emu.add_file(b"abc", download_host=emu.alt_base_url)
    assert f["url_private_download"].startswith("http://127.0.0.2:")
    async with aiohttp.ClientSession() as session, session.get(f["url_private_download"]) as resp:
        await resp.read()
    first = emu.file_downloads[0]
    assert first.host == emu.alt_base_url.removeprefix("http://")
    assert first.authorization is None


async def test_drop_download_after(emu: SlackEmulator) -> None:
    f = emu.add_file(b"z" * 100_000)
    emu.drop_download_after(f["id"], 1000)
    auth = {"Authorization": f"Bearer {emu.bot_token}"}
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with session.get(f["url_private_download"], headers=auth) as resp:
                await resp.read()
        async with session.get(f["url_private_download"], headers=auth) as resp:
            assert len(await resp.read()) == 100_000


# --- inbound: HTTP mode -----------------------------------------------------------------------


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/slack/events"


def bolt_app(emu: SlackEmulator) -> AsyncApp:
    return AsyncApp(
        client=AsyncWebClient(token=emu.bot_token, base_url=emu.api_url),
        signing_secret=emu.signing_secret,
    )


async def test_bolt_receives_signed_event_and_rejects_bad_signature(emu: SlackEmulator) -> None:
    app = bolt_app(emu)
    seen: list[dict] = []
    got = asyncio.Event()

    @app.event("message")
    async def on_message(body: dict, event: dict) -> None:
        seen.append(body)
        got.set()

    runner, url = await serve(app.web_app())
    try:
        clip = emu.add_file(b"abc")
        event = emu.post_user_message("C0GENERAL", files=[clip])
        sent = await emu.send_event(url, event, event_id="Ev0001", retry_num=1)
        assert sent.status == 200
        assert sent.elapsed_s < 3
        await asyncio.wait_for(got.wait(), 1)
        assert seen[0]["event_id"] == "Ev0001"
        assert seen[0]["event"]["files"][0]["id"] == clip["id"]
        assert seen[0]["authorizations"][0]["user_id"] == "U0BOT"
        bad = await emu.send_event(url, event, bad_signature=True)
        assert bad.status == 401
        stale = await emu.send_event(url, event, timestamp=1_600_000_000)
        assert stale.status == 401
    finally:
        await runner.cleanup()


async def test_slash_command_ack_and_response_url(emu: SlackEmulator) -> None:
    app = bolt_app(emu)

    @app.command("/transcribe")
    async def on_command(ack: Any, respond: Any, command: dict) -> None:
        await ack(text="working", response_type="ephemeral")
        await respond(text=f"done: {command['text']}", response_type="in_channel")

    runner, url = await serve(app.web_app())
    try:
        sent = await emu.send_slash_command(url, text="now")
        assert sent.status == 200
        assert sent.json() == {"text": "working", "response_type": "ephemeral"}
        for _ in range(50):
            if emu.response_url_posts:
                break
            await asyncio.sleep(0.02)
        assert emu.response_url_posts[0]["body"]["text"] == "done: now"
        assert emu.bot_replies("C0GENERAL")[0]["text"] == "done: now"
    finally:
        await runner.cleanup()


async def test_message_shortcut_reaches_bolt(emu: SlackEmulator) -> None:
    app = bolt_app(emu)
    got: list[dict] = []

    @app.message_shortcut("transcribe_message")
    async def on_shortcut(ack: Any, shortcut: dict) -> None:
        await ack()
        got.append(shortcut)

    runner, url = await serve(app.web_app())
    try:
        message = emu.post_user_message("C0GENERAL", files=[emu.add_file(b"x")])
        sent = await emu.send_message_shortcut(url, message=message)
        assert sent.status == 200
        assert got[0]["message"]["ts"] == message["ts"]
        assert got[0]["message"]["files"][0]["id"] == message["files"][0]["id"]
    finally:
        await runner.cleanup()


def test_sign_matches_slack_sdk_verifier() -> None:
    from slack_sdk.signature import SignatureVerifier

    body = b'{"a":1}'
    ts = 1_700_000_000
    verifier = SignatureVerifier("s3cret", clock=type("C", (), {"now": lambda self: ts})())
    assert verifier.is_valid(body, str(ts), sign("s3cret", body, ts))


# --- inbound: Socket Mode ---------------------------------------------------------------------


async def test_socket_mode_round_trip(emu: SlackEmulator) -> None:
    app = bolt_app(emu)
    seen: list[dict] = []

    @app.event("app_mention")
    async def on_mention(body: dict, context: Any) -> None:
        seen.append(body)

    handler = AsyncSocketModeHandler(app, emu.app_token)
    await handler.connect_async()
    try:
        await asyncio.wait_for(emu.socket_connected.wait(), 2)
        message = emu.post_user_message("C0GENERAL", text="<@U0BOT> transcribe")
        ack = await emu.socket_send_event(
            emu.app_mention_event(message), retry_attempt=1, retry_reason="timeout"
        )
        assert ack == {"envelope_id": emu.socket_envelopes[0]["envelope_id"]}
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.02)
        assert seen[0]["event"]["ts"] == message["ts"]
        assert emu.calls_to("apps.connections.open")[0].token == emu.app_token
    finally:
        await handler.close_async()


async def test_url_verification_answered_by_bolt(emu: SlackEmulator) -> None:
    runner, url = await serve(bolt_app(emu).web_app())
    try:
        sent = await emu.send_url_verification(url, challenge="abc123")
        assert sent.status == 200
        assert sent.json() == {"challenge": "abc123"}
    finally:
        await runner.cleanup()


async def test_socket_mode_slash_command_ack_carries_payload(emu: SlackEmulator) -> None:
    app = bolt_app(emu)

    @app.command("/transcribe")
    async def on_command(ack: Any) -> None:
        await ack(text="working")

    handler = AsyncSocketModeHandler(app, emu.app_token)
    await handler.connect_async()
    try:
        ack = await emu.socket_send_slash_command(text="")
        assert ack["payload"] == {"text": "working"}
        assert emu.socket_envelopes[0]["accepts_response_payload"] is True
    finally:
        await handler.close_async()


# --- other methods --------------------------------------------------------------------------


async def test_update_ephemeral_permalink_and_home(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="working…")
    await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="done")
    assert emu.bot_replies("C0GENERAL")[0]["text"] == "done"
    user_msg = emu.post_user_message("C0GENERAL", text="mine")
    err = await api_error(client.chat_update(channel="C0GENERAL", ts=user_msg["ts"], text="x"))
    assert err.response["error"] == "cant_update_message"

    await client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="only you")
    assert emu.ephemerals[0]["user"] == "U0ALICE"
    assert emu.ephemerals[0]["text"] == "only you"

    link = await client.chat_getPermalink(channel="C0GENERAL", message_ts=posted["ts"])
    assert link["permalink"].endswith("/archives/C0GENERAL/p" + posted["ts"].replace(".", ""))

    view = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    await client.views_publish(user_id="U0ALICE", view=view)
    assert emu.home_views["U0ALICE"]["blocks"] == view["blocks"]


async def test_conversation_reads_need_their_scopes_and_membership(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    # History scopes do not grant conversations.info: that takes channels:read.
    history_only = SlackEmulator(scopes=[s for s in emu.scopes if not s.endswith(":read")])
    async with history_only:
        reader = AsyncWebClient(token=history_only.bot_token, base_url=history_only.api_url)
        err = await api_error(reader.conversations_info(channel="C0GENERAL"))
    assert err.response["error"] == "missing_scope"
    assert err.response["needed"] == "channels:read"
    emu.add_channel("C0OUT", bot_is_member=False)
    err = await api_error(client.conversations_history(channel="C0OUT"))
    assert err.response["error"] == "not_in_channel"
    emu.add_channel("G0PRIV", is_private=True)
    emu.post_user_message("G0PRIV", text="secret")
    history = await client.conversations_history(channel="G0PRIV")
    assert history["messages"][0]["text"] == "secret"


async def test_history_is_newest_first_and_paginates(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    sent = [emu.post_user_message("C0GENERAL", text=str(i))["ts"] for i in range(5)]
    emu.post_user_message("C0GENERAL", text="reply", thread_ts=sent[0])
    first = await client.conversations_history(channel="C0GENERAL", limit=3)
    assert [m["text"] for m in first["messages"]] == ["4", "3", "2"]
    assert first["has_more"] is True
    rest = await client.conversations_history(
        channel="C0GENERAL", limit=3, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["1", "0"]
    assert rest["messages"][1]["reply_count"] == 1


# --- Slack Connect file stubs and files hidden by the free plan's limit -----------------------

#: What Slack sends instead of the file in Slack Connect channels and some DMs (slack-wire.md §1.4b).
STUB_KEYS = {"id", "mode", "file_access", "created", "timestamp", "user"}


def assert_stub(file: dict[str, Any], file_id: str) -> None:
    assert set(file) == STUB_KEYS
    assert file == {
        "id": file_id,
        "mode": "file_access",
        "file_access": "check_file_info",
        "created": 0,
        "timestamp": 0,
        "user": "",
    }


async def test_slack_connect_channel_sends_stubs_everywhere_but_files_info(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    emu.add_channel("C0CONNECT", name="with-partner", is_ext_shared=True)
    clip = emu.add_file(b"abc")
    event = emu.post_user_message("C0CONNECT", files=[clip], text="listen")
    assert_stub(event["files"][0], clip["id"])
    assert emu.event_envelope(event)["is_ext_shared_channel"] is True
    reply = emu.post_user_message("C0CONNECT", files=[clip], thread_ts=event["ts"])
    assert_stub(reply["files"][0], clip["id"])

    history = await client.conversations_history(channel="C0CONNECT")
    assert_stub(history["messages"][0]["files"][0], clip["id"])
    replies = await client.conversations_replies(channel="C0CONNECT", ts=event["ts"])
    assert [m["files"][0]["mode"] for m in replies["messages"]] == ["file_access"] * 2
    info = await client.files_info(file=clip["id"])
    assert info["file"]["mimetype"] == "audio/mp4"
    assert info["file"]["url_private_download"] == clip["url_private_download"]
    shares = info["file"]["shares"]["public"]["C0CONNECT"]
    assert {s["ts"] for s in shares} == {event["ts"], reply["ts"]}

    reader = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
    emu.scopes += ("channels:read",)
    channel = (await reader.conversations_info(channel="C0CONNECT"))["channel"]
    assert channel["is_ext_shared"] is True and channel["is_shared"] is True
    # An ordinary channel still carries the whole file.
    plain = emu.post_user_message("C0GENERAL", files=[clip])
    assert plain["files"][0]["url_private_download"] == clip["url_private_download"]
    assert emu.event_envelope(plain)["is_ext_shared_channel"] is False


async def test_dm_stubs_when_asked(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.add_channel("D0ALICE", is_im=True, user="U0ALICE")
    clip = emu.add_file(b"abc")
    event = emu.post_user_message("D0ALICE", files=[clip], file_stubs=True)
    assert event["channel_type"] == "im"
    assert_stub(event["files"][0], clip["id"])
    history = await client.conversations_history(channel="D0ALICE")
    assert_stub(history["messages"][0]["files"][0], clip["id"])
    whole = emu.post_user_message("D0ALICE", files=[clip])
    assert whole["files"][0]["mimetype"] == "audio/mp4"


async def test_files_hidden_by_limit_are_tombstones(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    clip = emu.add_file(b"abc")
    before = emu.post_user_message("C0GENERAL", files=[clip])
    assert before["files"][0]["mimetype"] == "audio/mp4"
    emu.hide_file_by_limit(clip["id"])
    # Slack's changelog 2019-03 ("wild west for files no more"): redacted to id and mode.
    tombstone = {"id": clip["id"], "mode": "hidden_by_limit"}
    history = await client.conversations_history(channel="C0GENERAL")
    assert history["messages"][0]["files"] == [tombstone]
    assert (await client.files_info(file=clip["id"]))["file"] == tombstone
    shared_again = emu.post_user_message("C0GENERAL", files=[clip])
    assert shared_again["files"] == [tombstone]
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            clip["url_private_download"], headers={"Authorization": f"Bearer {emu.bot_token}"}
        ) as resp,
    ):
        assert resp.content_type == "text/html"


# --- who can see a channel: conversations.members / info, users.info ---------------------------

READ = ("channels:read", "groups:read", "im:read", "mpim:read")


@pytest.fixture
async def reader(emu: SlackEmulator) -> AsyncWebClient:
    emu.scopes += READ
    return AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)


async def test_conversations_members_pages_with_cursor_and_limit(
    emu: SlackEmulator, reader: AsyncWebClient
) -> None:
    people = {f"U{i:04d}" for i in range(250)}
    for user in people:
        emu.add_user(user, name=user.lower(), real_name=user)
    emu.add_channel("C0BIG", members=people)
    first = await reader.conversations_members(channel="C0BIG")
    assert len(first["members"]) == 100  # Slack's default limit
    seen = list(first["members"])
    cursor = first["response_metadata"]["next_cursor"]
    while cursor:
        page = await reader.conversations_members(channel="C0BIG", limit=120, cursor=cursor)
        assert len(page["members"]) <= 120
        seen += page["members"]
        cursor = page["response_metadata"]["next_cursor"]
    assert len(seen) == len(set(seen)) == 251
    assert set(seen) == people | {emu.bot_user_id}
    everyone = await reader.conversations_members(channel="C0BIG", limit=5000)
    assert len(everyone["members"]) == 251  # at most 1000 a page; this fits in one
    err = await api_error(reader.conversations_members(channel="C0BIG", cursor="bm9wZQ=="))
    assert err.response["error"] == "invalid_cursor"


async def test_conversations_members_needs_the_read_scope_of_the_channel_type(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    emu.scopes = tuple(s for s in emu.scopes if s not in READ_SCOPES.values())
    emu.add_channel("G0PRIV", is_private=True, members={"U0ALICE"})
    emu.add_channel("D0ALICE", is_im=True, user="U0ALICE")
    emu.add_channel("G0MPIM", is_mpim=True, members={"U0ALICE"})
    cases = [
        ("C0GENERAL", "channels:read"),
        ("G0PRIV", "groups:read"),
        ("D0ALICE", "im:read"),
        ("G0MPIM", "mpim:read"),
    ]
    for channel, scope in cases:
        err = await api_error(client.conversations_members(channel=channel))
        assert (err.response["error"], err.response["needed"]) == ("missing_scope", scope)
        emu.scopes += (scope,)
        members = (await client.conversations_members(channel=channel))["members"]
        assert "U0ALICE" in members and emu.bot_user_id in members


async def test_private_channels_the_bot_is_not_in_do_not_exist_for_it(
    emu: SlackEmulator, reader: AsyncWebClient
) -> None:
    emu.add_channel("G0SECRET", is_private=True, bot_is_member=False, members={"U0ALICE"})
    emu.post_user_message("G0SECRET", text="secret")
    for method in ("conversations.members", "conversations.info", "conversations.history"):
        err = await api_error(reader.api_call(method, params={"channel": "G0SECRET"}))
        assert err.response["error"] == "channel_not_found"
    # A public channel the bot is not in is still visible to it, members included.
    emu.add_channel("C0OUT", bot_is_member=False, members={"U0ALICE"})
    assert (await reader.conversations_members(channel="C0OUT"))["members"] == ["U0ALICE"]
    info = (await reader.conversations_info(channel="C0OUT"))["channel"]
    assert info["is_member"] is False and info["is_private"] is False


async def test_conversations_info_says_what_kind_of_conversation_it_is(
    emu: SlackEmulator, reader: AsyncWebClient
) -> None:
    emu.add_channel("G0PRIV", is_private=True)
    emu.add_channel("G0MPIM", is_mpim=True)
    emu.add_channel("D0ALICE", is_im=True, user="U0ALICE")
    emu.add_channel("C0CONNECT", is_ext_shared=True)
    kinds = {}
    for cid in ("C0GENERAL", "G0PRIV", "G0MPIM", "C0CONNECT"):
        c = (await reader.conversations_info(channel=cid))["channel"]
        kinds[cid] = (c["is_private"], c["is_mpim"], c["is_im"], c["is_ext_shared"], c["is_member"])
    assert kinds == {
        "C0GENERAL": (False, False, False, False, True),
        "G0PRIV": (True, False, False, False, True),
        "G0MPIM": (True, True, False, False, True),
        "C0CONNECT": (False, False, False, True, True),
    }
    # An IM has no name, privacy or membership flags: `is_im` and `user` (a real capture).
    im = (await reader.conversations_info(channel="D0ALICE"))["channel"]
    assert im["is_im"] is True and im["user"] == "U0ALICE"
    assert "is_private" not in im and "name" not in im


async def test_users_info_has_the_real_user_shape(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    emu.add_user("U0ADMIN", name="ada", real_name="Ada L", display_name="ada", is_admin=True)
    emu.add_user("U0OWNER", name="olga", real_name="Olga", is_owner=True, is_primary_owner=True)
    emu.add_user("U0GUEST", name="gus", real_name="Gus", is_restricted=True)
    emu.add_user(
        "U0SINGLE", name="sam", real_name="Sam", is_restricted=True, is_ultra_restricted=True
    )
    emu.add_user("U0GONE", name="gone", real_name="Gone", deleted=True)
    flags = ("is_admin", "is_owner", "is_primary_owner", "is_restricted", "is_ultra_restricted")
    got = {}
    for uid in ("U0ALICE", "U0ADMIN", "U0OWNER", "U0GUEST", "U0SINGLE", "U0GONE", "U0BOT"):
        user = (await client.users_info(user=uid))["user"]
        assert user["id"] == uid and user["team_id"] == emu.team_id
        assert {"display_name", "real_name"} <= set(user["profile"])
        got[uid] = tuple(user[f] for f in (*flags, "deleted", "is_bot"))
    assert got == {
        "U0ALICE": (False, False, False, False, False, False, False),
        "U0ADMIN": (True, False, False, False, False, False, False),
        "U0OWNER": (False, True, True, False, False, False, False),
        "U0GUEST": (False, False, False, True, False, False, False),
        "U0SINGLE": (False, False, False, True, True, False, False),
        "U0GONE": (False, False, False, False, False, True, False),
        "U0BOT": (False, False, False, False, False, False, True),
    }
    admin = (await client.users_info(user="U0ADMIN"))["user"]
    assert admin["profile"]["display_name"] == "ada" and admin["real_name"] == "Ada L"


# --- message limits (each with its source in slack_wire.py) -----------------------------------


def _button(**kw: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": "transcript_delete",
        "text": {"type": "plain_text", "text": "Delete"},
        **kw,
    }


def _select(options: int = 3, **kw: Any) -> dict[str, Any]:
    return {
        "type": "static_select",
        "action_id": "transcript_download",
        "placeholder": {"type": "plain_text", "text": "Download"},
        "options": [
            {"text": {"type": "plain_text", "text": f"o{i}"}, "value": f"v{i}"}
            for i in range(options)
        ],
        **kw,
    }


def _actions(*elements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "actions", "elements": list(elements)}]


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        (_actions(_button(text={"type": "plain_text", "text": "x" * 76})), "/elements/0/text"),
        (_actions(_button(text={"type": "mrkdwn", "text": "Delete"})), "/elements/0/text"),
        (_actions(_button(value="x" * 2001)), "/elements/0/value"),
        (_actions(_button(action_id="a" * 256)), "/elements/0/action_id"),
        (_actions(_button(url="https://x/" + "a" * 3000)), "/elements/0/url"),
        (_actions(_button(), _button()), "/elements/1/action_id"),
        (_actions(_button()) + _actions(_button()), "/blocks/1/elements/0/action_id"),
        (_actions(_select(options=101)), "/elements/0/options"),
        (_actions(_select(options=0)), "/elements/0/options"),
        (
            _actions(_select(placeholder={"type": "plain_text", "text": "p" * 151})),
            "/elements/0/placeholder",
        ),
        (
            _actions(
                _select(options=1)
                | {"options": [{"text": {"type": "plain_text", "text": "t" * 76}, "value": "v"}]}
            ),
            "/elements/0/options/0/text",
        ),
        (
            _actions(
                _select(options=1)
                | {"options": [{"text": {"type": "plain_text", "text": "t"}, "value": "v" * 151}]}
            ),
            "/elements/0/options/0/value",
        ),
        (
            _actions({"type": "overflow", "action_id": "o", "options": _select(6)["options"]}),
            "/elements/0/options",
        ),
        (
            [{"type": "image", "image_url": "https://x/a.png", "alt_text": "a" * 2001}],
            "/blocks/0/alt_text",
        ),
        (
            [{"type": "image", "image_url": "https://x/" + "a" * 3000, "alt_text": "a"}],
            "/blocks/0/image_url",
        ),
        (
            [
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "t"},
                    "accessory": _button(value="x" * 2001),
                }
            ],
            "/blocks/0/accessory/value",
        ),
    ],
    ids=[
        "button-text-76",
        "button-text-mrkdwn",
        "button-value-2001",
        "action-id-256",
        "button-url-3001",
        "duplicate-action-id",
        "duplicate-action-id-across-blocks",
        "select-101-options",
        "select-no-options",
        "placeholder-151",
        "option-text-76",
        "option-value-151",
        "overflow-6-options",
        "image-alt-2001",
        "image-url-3001",
        "accessory-value-2001",
    ],
)
async def test_interactive_elements_are_held_to_slacks_limits(
    emu: SlackEmulator, client: AsyncWebClient, blocks: list[dict[str, Any]], pointer: str
) -> None:
    err = await api_error(
        client.api_call(
            "chat.postMessage", json={"channel": "C0GENERAL", "text": "t", "blocks": blocks}
        )
    )
    assert err.response["error"] == "invalid_blocks"
    assert any(pointer in m for m in err.response["response_metadata"]["messages"]), err.response
    assert emu.bot_replies("C0GENERAL") == []


async def test_interactive_elements_at_their_limits_are_accepted(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    blocks = _actions(
        _button(text={"type": "plain_text", "text": "x" * 75}, value="v" * 2000),
        _select(options=100, placeholder={"type": "plain_text", "text": "p" * 150}),
        {"type": "overflow", "action_id": "o", "options": _select(5)["options"]},
    )
    blocks.append({"type": "image", "image_url": "https://x/a.png", "alt_text": "a" * 2000})
    await client.api_call(
        "chat.postMessage", json={"channel": "C0GENERAL", "text": "t", "blocks": blocks}
    )
    assert len(emu.bot_replies("C0GENERAL")) == 1


async def test_long_text_is_refused_where_slack_does_not_document_truncation(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="short")
    err = await api_error(
        client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="x" * 40_001)
    )
    assert err.response["error"] == "msg_too_long"
    assert emu.bot_replies("C0GENERAL")[0]["text"] == "short"
    await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="x" * 40_000)
    err = await api_error(
        client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="x" * 40_001)
    )
    assert err.response["error"] == "msg_too_long"
    assert emu.ephemerals == []


async def test_views_hold_100_blocks_and_messages_50(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    def view(n: int) -> dict[str, Any]:
        return {"type": "home", "blocks": [{"type": "divider"}] * n}

    await client.views_publish(user_id="U0ALICE", view=view(100))
    assert len(emu.home_views["U0ALICE"]["blocks"]) == 100
    err = await api_error(client.views_publish(user_id="U0ALICE", view=view(101)))
    assert err.response["error"] == "invalid_blocks"
    err = await api_error(
        client.chat_postMessage(channel="C0GENERAL", text="t", blocks=[{"type": "divider"}] * 51)
    )
    assert err.response["error"] == "invalid_blocks"


# --- chat.update: Tier 3, and the same Block Kit checks as chat.postMessage --------------------


async def test_chat_update_is_rate_limited_at_tier_3(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="0%")
    for i in range(50):  # Tier 3: 50 a minute, and a burst of as many
        await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text=f"{i}%")
    err = await api_error(client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="51"))
    assert err.response.status_code == 429
    assert err.response["error"] == "ratelimited"
    assert int(err.response.headers["Retry-After"]) >= 1
    assert emu.bot_replies("C0GENERAL")[0]["text"] == "49%"
    assert len(emu.updates) == 50
    # Per method: the same workspace may still post.
    await client.chat_postMessage(channel="C0GENERAL", text="still here")


async def test_chat_update_checks_blocks_again(emu: SlackEmulator, client: AsyncWebClient) -> None:
    blocks = _actions(_button(), _select(options=3))
    posted = await client.chat_postMessage(channel="C0GENERAL", text="t", blocks=blocks)
    for bad in (
        _actions(_button(), _select(options=101)),
        _actions(_button(action_id="a" * 256)),
        _actions(_button()) + _actions(_button()),
        _actions(
            _select(options=1)
            | {"options": [{"text": {"type": "plain_text", "text": "t" * 76}, "value": "v"}]}
        ),
    ):
        err = await api_error(
            client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="t", blocks=bad)
        )
        assert err.response["error"] == "invalid_blocks"
    assert emu.bot_replies("C0GENERAL")[0]["blocks"] == blocks
    assert emu.updates == []
