"""A thread with two recordings shared by two people: deleting stays with what is whose.

Bob's voice note in Alice's thread must not make him the sharer of Alice's recording, and
deleting Bob's message must not take Alice's transcript with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.asking import CHANNEL, notices, share, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.test_delete_transcript import BOB, click_delete, mention, people
from tests.test_transcript_controls import translations, use

__all__ = ["people"]  # a fixture, used by name


def transcript_headers(slack: SlackEmulator, thread_ts: str) -> list[dict[str, Any]]:
    return [
        m
        for m in transcripts(slack, CHANNEL, thread_ts)
        if m["blocks"][0]["type"] == "header" and m["blocks"][0]["block_id"].endswith("-0")
    ]


async def two_recordings(slack: SlackEmulator, server: Server, clip: Path) -> tuple[dict, dict]:
    """Alice shares a recording; Bob answers in its thread with a voice note of his own."""
    _, alice = share(slack, clip)
    await slack.send_event(server.events_url, alice)
    await wait_for(lambda: transcript_headers(slack, alice["ts"]))
    await settle(server)
    _, bob = share(slack, clip, thread_ts=alice["ts"], user=BOB, name="bob.m4a")
    await slack.send_event(server.events_url, bob)
    await wait_for(lambda: len(transcript_headers(slack, alice["ts"])) == 2, timeout=30)
    await settle(server)
    return alice, bob


async def test_a_voice_note_in_someone_elses_thread_gives_no_right_to_delete_their_transcript(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    alice, _bob = await two_recordings(slack, server, voice_clip)
    await click_delete(slack, server, alice["ts"], BOB)
    await wait_for(lambda: notices(slack))
    await settle(server)
    assert "can't delete" in notices(slack)[-1]
    assert len(transcript_headers(slack, alice["ts"])) == 2  # nothing went


async def test_deleting_one_recording_takes_only_its_transcript(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    alice, bob = await two_recordings(slack, server, voice_clip)
    alice_transcript = transcript_headers(slack, alice["ts"])[0]["ts"]
    for event in slack.delete_user_message(CHANNEL, bob["ts"], by=BOB):
        assert (await slack.send_event(server.events_url, event)).status == 200
    await wait_for(lambda: len(transcript_headers(slack, alice["ts"])) == 1, timeout=20)
    await settle(server)
    assert [m["ts"] for m in transcript_headers(slack, alice["ts"])] == [alice_transcript]


async def test_an_admin_of_another_organisation_is_no_admin_here(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    """Slack Connect: users.info shows a partner's user with their own organisation's role."""
    slack.add_user("U0EXT", name="ext", real_name="Partner Admin", is_admin=True)
    slack.users["U0EXT"]["team_id"] = "T0PARTNER"
    slack.users["U0EXT"]["profile"]["team"] = "T0PARTNER"
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: transcript_headers(slack, event["ts"]))
    await settle(server)
    await click_delete(slack, server, event["ts"], "U0EXT")
    await wait_for(lambda: notices(slack))
    await settle(server)
    assert "can't delete" in notices(slack)[-1]
    assert transcript_headers(slack, event["ts"])


async def test_a_recording_deleted_while_it_is_transcribed_gets_no_transcript(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    """Someone shares the wrong recording and deletes it at once."""
    gemini.latency_s = 1.0
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: gemini.in_flight_interactions >= 1, timeout=20)
    for deletion in slack.delete_user_message(CHANNEL, event["ts"]):
        assert (await slack.send_event(server.events_url, deletion)).status == 200
    await settle(server, timeout=20)
    assert slack.bot_replies(CHANNEL, event["ts"]) == []


async def test_a_transcript_deleted_and_made_again_can_be_translated_again(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: transcript_headers(slack, event["ts"]))
    await settle(server)
    await use(
        slack, server, transcript_headers(slack, event["ts"])[0], "transcript_translate", "de"
    )
    await wait_for(lambda: translations(slack, event["ts"], "German"), timeout=20)
    await settle(server)
    await click_delete(slack, server, event["ts"], "U0ALICE")
    await wait_for(lambda: not slack.bot_replies(CHANNEL, event["ts"]), timeout=20)
    await settle(server)

    await slack.send_event(server.events_url, mention(slack, "", event["ts"]))
    await wait_for(lambda: transcript_headers(slack, event["ts"]), timeout=20)
    await settle(server)
    await use(
        slack, server, transcript_headers(slack, event["ts"])[0], "transcript_translate", "de"
    )
    await wait_for(lambda: translations(slack, event["ts"], "German"), timeout=20)
    await settle(server)
    assert len(translations(slack, event["ts"], "German")) == 1
