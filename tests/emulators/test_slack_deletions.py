"""Deletions in the Slack emulator, through the real slack_sdk: chat.delete and files.delete
with their refusals, and people deleting messages and files (the events Slack sends, the
tombstones left in history)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.emulators.slack import SlackEmulator
from tests.emulators.test_slack_emulator import api_error


@pytest.fixture
def client(slack: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


async def history(client: AsyncWebClient, channel: str = "C0GENERAL") -> list[dict[str, Any]]:
    return list((await client.conversations_history(channel=channel))["messages"])


async def replies(client: AsyncWebClient, ts: str) -> list[dict[str, Any]]:
    return list((await client.conversations_replies(channel="C0GENERAL", ts=ts))["messages"])


# --- chat.delete --------------------------------------------------------------------------------


async def test_chat_delete_removes_the_bots_own_message(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="working…")
    answer = await client.chat_delete(channel="C0GENERAL", ts=posted["ts"])
    assert (answer["channel"], answer["ts"]) == ("C0GENERAL", posted["ts"])
    assert await history(client) == [] and slack.bot_replies("C0GENERAL") == []
    assert slack.deletes[0]["ts"] == posted["ts"]
    assert slack.deletes[0]["message"]["text"] == "working…"
    event = slack.deletes[0]["events"][0]
    assert (event["subtype"], event["deleted_ts"], event["hidden"]) == (
        "message_deleted",
        posted["ts"],
        True,
    )

    err = await api_error(client.chat_delete(channel="C0GENERAL", ts=posted["ts"]))
    assert err.response["error"] == "message_not_found"
    mine = slack.post_user_message("C0GENERAL", text="mine")
    err = await api_error(client.chat_delete(channel="C0GENERAL", ts=mine["ts"]))
    assert err.response["error"] == "cant_delete_message"
    err = await api_error(client.chat_delete(channel="C0NOPE", ts=mine["ts"]))
    assert err.response["error"] == "channel_not_found"
    assert [m["ts"] for m in await history(client)] == [mine["ts"]]
    assert len(slack.deletes) == 1


async def test_chat_delete_needs_chat_write() -> None:
    async with SlackEmulator(scopes=("channels:history",)) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        err = await api_error(client.chat_delete(channel="C0GENERAL", ts="1700000000.000100"))
        assert (err.response["error"], err.response["needed"]) == ("missing_scope", "chat:write")
        err = await api_error(client.files_delete(file="F0NOPE"))
        assert (err.response["error"], err.response["needed"]) == ("missing_scope", "files:write")


async def test_deleting_replies_updates_the_thread(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = slack.post_user_message("C0GENERAL", text="clip")
    first = await client.chat_postMessage(channel="C0GENERAL", text="a", thread_ts=parent["ts"])
    second = await client.chat_postMessage(channel="C0GENERAL", text="b", thread_ts=parent["ts"])
    await client.chat_delete(channel="C0GENERAL", ts=second["ts"])
    root = (await replies(client, parent["ts"]))[0]
    assert (root["reply_count"], root["latest_reply"]) == (1, first["ts"])
    await client.chat_delete(channel="C0GENERAL", ts=first["ts"])
    assert [m["ts"] for m in await replies(client, parent["ts"])] == [parent["ts"]]


# --- people deleting messages ---------------------------------------------------------------------


async def test_a_deleted_message_event_and_history(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    message = slack.post_user_message("C0GENERAL", text="oops")
    [event] = slack.delete_user_message("C0GENERAL", message["ts"])
    assert event["type"] == "message" and event["subtype"] == "message_deleted"
    assert event["hidden"] is True and event["deleted_ts"] == message["ts"]
    assert event["ts"] == event["event_ts"] != message["ts"]
    assert (event["channel"], event["channel_type"]) == ("C0GENERAL", "channel")
    assert event["previous_message"]["text"] == "oops"
    assert await history(client) == []
    envelope = slack.event_envelope(event)
    assert envelope["event"] is event and envelope["type"] == "event_callback"


async def test_a_thread_parent_with_replies_becomes_a_tombstone(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = slack.post_user_message("C0GENERAL", text="clip")
    reply = await client.chat_postMessage(channel="C0GENERAL", text="t", thread_ts=parent["ts"])
    [changed] = slack.delete_user_message("C0GENERAL", parent["ts"])
    assert changed["subtype"] == "message_changed" and changed["hidden"] is True
    tombstone = changed["message"]
    assert tombstone["subtype"] == "tombstone" and tombstone["hidden"] is True
    assert (tombstone["ts"], tombstone["thread_ts"]) == (parent["ts"], parent["ts"])
    assert (tombstone["user"], tombstone["text"]) == ("USLACKBOT", "This message was deleted.")
    assert tombstone["reply_count"] == 1 and "files" not in tombstone
    assert changed["previous_message"]["text"] == "clip"
    assert [m["subtype"] for m in await history(client)] == ["tombstone"]
    assert [m["ts"] for m in await replies(client, parent["ts"])] == [parent["ts"], reply["ts"]]
    # The bot may not delete a tombstone; when the last reply goes, the tombstone goes too.
    err = await api_error(client.chat_delete(channel="C0GENERAL", ts=parent["ts"]))
    assert err.response["error"] == "cant_delete_message"
    await client.chat_delete(channel="C0GENERAL", ts=reply["ts"])
    gone = [e["previous_message"].get("subtype") for e in slack.deletes[0]["events"]]
    assert gone == [None, "tombstone"]
    assert slack.deletes[0]["events"][1]["previous_message"]["reply_count"] == 0
    assert await history(client) == []


async def test_only_authors_and_admins_delete_messages(slack: SlackEmulator) -> None:
    slack.add_user("U0BOB", name="bob", real_name="Bob")
    slack.add_user("U0ADMIN", name="ada", real_name="Ada", is_admin=True)
    message = slack.post_user_message("C0GENERAL", text="hello")
    with pytest.raises(ValueError, match="may not delete"):
        slack.delete_user_message("C0GENERAL", message["ts"], by="U0BOB")
    [event] = slack.delete_user_message("C0GENERAL", message["ts"], by="U0ADMIN")
    assert event["deleted_ts"] == message["ts"]
    with pytest.raises(KeyError):
        slack.delete_user_message("C0GENERAL", message["ts"])


# --- files --------------------------------------------------------------------------------------


async def test_files_delete_of_the_bots_upload(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = slack.post_user_message("C0GENERAL", text="clip")
    upload = await client.files_upload_v2(
        channel="C0GENERAL", thread_ts=parent["ts"], content="WEBVTT\n", filename="t.vtt"
    )
    file_id = upload["file"]["id"]
    assert (await client.files_delete(file=file_id))["ok"] is True
    assert slack.file_deletes == [
        {
            "file": file_id,
            "event": {
                "type": "file_deleted",
                "file_id": file_id,
                "event_ts": slack.file_deletes[0]["event"]["event_ts"],
            },
        }
    ]
    err = await api_error(client.files_info(file=file_id))
    assert err.response["error"] == "file_deleted"
    err = await api_error(client.files_delete(file=file_id))
    assert err.response["error"] == "file_deleted"
    thread = await replies(client, parent["ts"])
    assert thread[1]["files"] == [{"id": file_id, "mode": "tombstone"}]

    theirs = slack.add_file(b"audio", channel="C0GENERAL")
    err = await api_error(client.files_delete(file=theirs["id"]))
    assert err.response["error"] == "cant_delete_file"
    err = await api_error(client.files_delete(file="F0NOPE"))
    assert err.response["error"] == "file_not_found"


async def test_a_person_deleting_a_file(slack: SlackEmulator, client: AsyncWebClient) -> None:
    clip = slack.add_file(b"audio")
    message = slack.post_user_message("C0GENERAL", text="listen", files=[clip])
    event = slack.delete_user_file(clip["id"])
    assert event == {"type": "file_deleted", "file_id": clip["id"], "event_ts": event["event_ts"]}
    err = await api_error(client.files_info(file=clip["id"]))
    assert err.response["error"] == "file_deleted"
    [shown] = await history(client)
    assert shown["ts"] == message["ts"] and shown["text"] == "listen"
    assert shown["files"] == [{"id": clip["id"], "mode": "tombstone"}]
    auth = {"Authorization": f"Bearer {slack.bot_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(clip["url_private_download"], headers=auth) as resp,
    ):
        assert resp.content_type == "text/html"  # the sign-in page, not the bytes
    with pytest.raises(ValueError, match="already deleted"):
        slack.delete_user_file(clip["id"])
