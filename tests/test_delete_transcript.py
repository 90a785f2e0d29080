"""The Delete button on a transcript: who may, what goes, what stays, what each one is told.

The button is clicked as Slack sends it: a signed block_actions payload built from the
transcript's first message as the bot really posted it (tests/emulators/slack_interactivity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.slack.render import ReplyInfo, plan_delivery
from bot.transcript.model import Transcript
from tests.asking import ACK_LIMIT_S, CHANNEL, answers, notices, running, share, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator

BOB = "U0BOB"  # a member of the channel, nobody special
LISTED = "U0LISTED"  # one of SCRIBE_ADMINS
ADMIN = "U0ADA"  # a workspace admin
OWNER = "U0OWEN"  # a workspace owner


@pytest.fixture(autouse=True)
def people(slack: SlackEmulator) -> None:
    slack.add_user(BOB, name="bob", real_name="Bob Builder")
    slack.add_user(LISTED, name="lis", real_name="Lis Listed")
    slack.add_user(ADMIN, name="ada", real_name="Ada Admin", is_admin=True)
    slack.add_user(OWNER, name="owen", real_name="Owen Owner", is_owner=True)


def answer_with_files() -> dict[str, Any]:
    """A Gemini answer whose reply is too long for messages: the bot attaches files."""
    for n in range(100, 2000, 100):
        answer = {
            "summary": "A planning call.",
            "segments": [
                {
                    "speaker": f"Speaker {i % 2 + 1}",
                    "timestamp": f"00:{i * 11 // n:02d}",
                    "content": f"Line {i:04d}: " + "we keep talking about the plan " * 6,
                    "language": "en",
                    "emotion": "neutral",
                }
                for i in range(n)
            ],
        }
        info = ReplyInfo(file_name="memo.m4a", duration_s=12)
        if plan_delivery(Transcript.model_validate(answer), info).attachments:
            return answer
    raise AssertionError("no segment count gives attachments")


def mention(slack: SlackEmulator, text: str, thread_ts: str, user: str = BOB) -> dict[str, Any]:
    message = slack.post_user_message(
        CHANNEL, text=f"<@{slack.bot_user_id}> {text}".strip(), thread_ts=thread_ts, user=user
    )
    return slack.app_mention_event(message)


async def transcribed(slack: SlackEmulator, server: Server, clip: Path) -> dict[str, Any]:
    """Alice shares the clip; returns its message event once the transcript is in."""
    _, event = share(slack, clip)
    assert (await slack.send_event(server.events_url, event)).status == 200
    await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
    await settle(server)
    return event


async def click_delete(slack: SlackEmulator, server: Server, thread_ts: str, user: str) -> None:
    """`user` clicks Delete on the thread's transcript; Slack gets its answer in time."""
    first = transcripts(slack, CHANNEL, thread_ts)[0]
    sent = await slack.send_block_action_from_message(
        server.events_url, first, "transcript_delete", channel=CHANNEL, user=user
    )
    assert sent.status == 200, sent.body
    assert sent.elapsed_s < ACK_LIMIT_S
    await wait_for(lambda: told(slack, user))
    await settle(server)


def told(slack: SlackEmulator, user: str) -> list[str]:
    """What `user` alone was shown through the click's response_url."""
    posts = [p for p in slack.response_url_posts if p["user"] == user]
    assert all(p["body"].get("response_type") == "ephemeral" for p in posts)
    assert all(not p["body"].get("replace_original") for p in posts)
    return [str(p["body"].get("text", "")) for p in posts]


async def test_someone_else_may_not_delete_and_is_told_who_may(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_admins=LISTED) as server:
        event = await transcribed(slack, server, voice_clip)
        before = slack.bot_replies(CHANNEL, event["ts"])

        await click_delete(slack, server, event["ts"], BOB)

        (text,) = told(slack, BOB)
        assert "can't delete" in text
        # Who may: the sharer (named), workspace admins and owners, the app's admins.
        assert "<@U0ALICE>" in text and "workspace admins and owners" in text
        assert "admins named in this app's settings" in text
        assert slack.bot_replies(CHANNEL, event["ts"]) == before
        assert slack.deletes == [] and slack.file_deletes == []
        assert await server.runtime.store.thread_transcript(CHANNEL, event["ts"]) is not None
        assert slack.ephemerals == []  # nothing in the channel, not even for Bob


async def test_the_sharer_deletes_every_bot_reply_and_file_and_people_keep_theirs(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    gemini.script(answer_with_files())
    async with running(slack, gemini, tmp_path) as server:
        event = await transcribed(slack, server, voice_clip)
        ts = event["ts"]
        thanks = slack.post_user_message(CHANNEL, text="thanks!", thread_ts=ts, user=BOB)
        await slack.send_event(server.events_url, thanks)
        await slack.send_event(server.events_url, mention(slack, "what was decided?", ts))
        await wait_for(lambda: answers(slack, CHANNEL, ts))
        # Bob also downloads the JSON and asks for a German translation (the real menus).
        first = transcripts(slack, CHANNEL, ts)[0]
        for action, value in (("transcript_download", "json"), ("transcript_translate", "de")):
            sent = await slack.send_block_action_from_message(
                server.events_url, first, action, selected_value=value, user=BOB
            )
            assert sent.status == 200, sent.body
        await wait_for(lambda: any(u["filename"].endswith(".json") for u in slack.uploads))
        await wait_for(lambda: "German translation" in str(slack.bot_replies(CHANNEL, ts)))
        await settle(server)
        uploaded = {u["file_id"] for u in slack.uploads if u["thread_ts"] == ts}
        # txt, srt, vtt of the long transcript and of its translation; the JSON export.
        assert len(uploaded) == 7
        people = [m for m in slack.messages[CHANNEL] if not m.get("bot_id")]
        assert ("white_check_mark" in slack.reactions.get((CHANNEL, ts), set())) is True

        await click_delete(slack, server, ts, "U0ALICE")

        assert "Deleted" in told(slack, "U0ALICE")[0]
        assert slack.bot_replies(CHANNEL, ts) == []
        assert {d["file"] for d in slack.file_deletes} == uploaded
        assert [m for m in slack.messages[CHANNEL] if not m.get("bot_id")] == people
        assert "white_check_mark" not in slack.reactions.get((CHANNEL, ts), set())
        store = server.runtime.store
        assert await store.thread_transcript(CHANNEL, ts) is None
        assert await store.get_cached_transcript(f"{event['files'][0]['id']}::") is None

        # A later question: nothing to answer from, said only to the asker.
        asked = len(gemini.interaction_requests)
        await slack.send_event(server.events_url, mention(slack, "who spoke first?", ts))
        await wait_for(lambda: slack.ephemerals)
        await settle(server)
        assert "no transcript in this thread" in notices(slack)[-1]
        assert slack.bot_replies(CHANNEL, ts) == []
        assert len(gemini.interaction_requests) == asked


@pytest.mark.parametrize("who", [LISTED, ADMIN, OWNER])
async def test_the_apps_admins_and_workspace_admins_may_delete_any_transcript(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path, who: str
) -> None:
    async with running(slack, gemini, tmp_path, scribe_admins=LISTED) as server:
        event = await transcribed(slack, server, voice_clip)
        earlier = len(slack.calls)  # the transcript's hints read channel members' names

        await click_delete(slack, server, event["ts"], who)

        assert "Deleted" in told(slack, who)[0]
        assert slack.bot_replies(CHANNEL, event["ts"]) == []
        assert await server.runtime.store.thread_transcript(CHANNEL, event["ts"]) is None
        asked_slack = [
            c
            for c in slack.calls[earlier:]
            if c.method == "users.info" and c.params.get("user") == who
        ]
        # SCRIBE_ADMINS need no call; a workspace role is Slack's to say.
        assert (asked_slack == []) is (who == LISTED)


async def test_after_deletion_a_mention_transcribes_the_recording_again(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path) as server:
        event = await transcribed(slack, server, voice_clip)
        await click_delete(slack, server, event["ts"], "U0ALICE")
        assert slack.bot_replies(CHANNEL, event["ts"]) == []

        await slack.send_event(server.events_url, mention(slack, "", event["ts"]))
        await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
        await settle(server)

        assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1
        assert await server.runtime.store.thread_transcript(CHANNEL, event["ts"]) is not None
        assert len(gemini.interaction_requests) == 2  # the stored copy went with the first
