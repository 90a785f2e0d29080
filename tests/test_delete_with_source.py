"""A transcript goes with its source (SCRIBE_DELETE_WITH_SOURCE): the message that carried the
file, or the file itself, deleted by a person. The events are the ones the Slack emulator
says Slack sends for that deletion (tests/emulators/slack_deletions.py), delivered signed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.asking import CHANNEL, running, share, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator

BOB = "U0BOB"
OTHER = "C0OTHER"


async def deliver(slack: SlackEmulator, server: Server, *events: dict[str, Any]) -> None:
    for event in events:
        sent = await slack.send_event(server.events_url, event)
        assert sent.status == 200, (event.get("type"), event.get("subtype"), sent.body)


async def transcribed(
    slack: SlackEmulator, server: Server, clip: Path, **kw: Any
) -> dict[str, Any]:
    _, event = share(slack, clip, **kw)
    await deliver(slack, server, event)
    thread_ts = event.get("thread_ts") or event["ts"]
    await wait_for(lambda: transcripts(slack, event["channel"], thread_ts))
    await settle(server)
    return event


async def echo_our_deletions(slack: SlackEmulator, server: Server) -> None:
    """Slack tells the app about its own deletions too: delivered, they change nothing."""
    calls = len(slack.calls)
    await deliver(slack, server, *(e for d in slack.deletes for e in d["events"]))
    await deliver(slack, server, *(d["event"] for d in slack.file_deletes))
    await settle(server)
    assert [c.method for c in slack.calls[calls:]] == []


async def test_the_transcript_goes_with_a_deleted_thread_parent_that_carried_the_file(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_user(BOB, name="bob", real_name="Bob Builder")
    async with running(slack, gemini, tmp_path) as server:
        event = await transcribed(slack, server, voice_clip)
        ts = event["ts"]
        reply = slack.post_user_message(CHANNEL, text="on it", thread_ts=ts, user=BOB)
        await deliver(slack, server, reply)
        # Bob deletes his reply: not the source, the transcript stays.
        await deliver(slack, server, *slack.delete_user_message(CHANNEL, reply["ts"]))
        await settle(server)
        assert transcripts(slack, CHANNEL, ts) and slack.deletes == []

        # Alice deletes her message; with replies under it, Slack leaves a tombstone.
        (changed,) = slack.delete_user_message(CHANNEL, ts)
        assert (changed["subtype"], changed["message"]["subtype"]) == (
            "message_changed",
            "tombstone",
        )
        await deliver(slack, server, changed)
        await wait_for(lambda: not slack.bot_replies(CHANNEL, ts))
        await settle(server)

        assert await server.runtime.store.thread_transcript(CHANNEL, ts) is None
        assert slack.response_url_posts == [] and slack.ephemerals == []
        await echo_our_deletions(slack, server)
        # The thread is gone with its last reply: Slack removed the tombstone.
        assert [m for m in slack.messages[CHANNEL] if m["ts"] == ts] == []


async def test_the_transcript_goes_with_a_deleted_reply_that_carried_the_file(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_user(BOB, name="bob", real_name="Bob Builder")
    async with running(slack, gemini, tmp_path) as server:
        root = slack.post_user_message(CHANNEL, text="the recording is below", user=BOB)
        event = await transcribed(slack, server, voice_clip, thread_ts=root["ts"])
        assert transcripts(slack, CHANNEL, root["ts"])

        (deleted,) = slack.delete_user_message(CHANNEL, event["ts"])
        assert deleted["subtype"] == "message_deleted"
        await deliver(slack, server, deleted)
        await wait_for(lambda: not slack.bot_replies(CHANNEL, root["ts"]))
        await settle(server)

        assert await server.runtime.store.thread_transcript(CHANNEL, root["ts"]) is None
        assert [m["ts"] for m in slack.messages[CHANNEL]] == [root["ts"]]  # Bob's stays
        await echo_our_deletions(slack, server)


async def test_a_deleted_file_takes_its_transcripts_in_every_channel(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_channel(OTHER, name="other")
    async with running(slack, gemini, tmp_path) as server:
        file, first = share(slack, voice_clip)
        second = slack.post_user_message(OTHER, files=[file])
        await deliver(slack, server, first, second)
        await wait_for(
            lambda: (
                transcripts(slack, CHANNEL, first["ts"]) and transcripts(slack, OTHER, second["ts"])
            )
        )
        await settle(server)

        await deliver(slack, server, slack.delete_user_file(file["id"]))
        await wait_for(
            lambda: (
                not slack.bot_replies(CHANNEL, first["ts"])
                and not slack.bot_replies(OTHER, second["ts"])
            )
        )
        await settle(server)

        store = server.runtime.store
        assert await store.threads_of_file(file["id"]) == []
        assert await store.get_cached_transcript(f"{file['id']}::") is None
        # People's messages are theirs (Slack shows the file in them as deleted).
        assert {m["ts"] for m in slack.messages[CHANNEL] + slack.messages[OTHER]} == {
            first["ts"],
            second["ts"],
        }
        await echo_our_deletions(slack, server)


async def test_with_delete_with_source_off_the_events_are_taken_and_nothing_goes(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_delete_with_source=False) as server:
        event = await transcribed(slack, server, voice_clip)
        kept = slack.bot_replies(CHANNEL, event["ts"])
        calls = len(slack.calls)

        await deliver(slack, server, *slack.delete_user_message(CHANNEL, event["ts"]))
        await deliver(slack, server, slack.delete_user_file(event["files"][0]["id"]))
        await settle(server)

        assert slack.bot_replies(CHANNEL, event["ts"]) == kept
        assert [c.method for c in slack.calls[calls:]] == []
        assert await server.runtime.store.thread_transcript(CHANNEL, event["ts"]) is not None
