"""Which events become work: DMs, who is ignored, auto on/off, file_shared, the Home tab."""

from __future__ import annotations

from pathlib import Path

from tests.asking import CHANNEL, answers, running, share, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator

DM = "D0ALICE"


async def test_voice_note_sent_to_the_bot_is_transcribed_in_the_dm(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_channel(DM, is_im=True, user="U0ALICE")
    # Automatic transcription off everywhere: a DM to the bot is a request all the same.
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, event = share(slack, voice_clip, DM)
        assert event["channel_type"] == "im"
        assert (await slack.send_event(server.events_url, event)).status == 200
        reply = (await wait_for(lambda: transcripts(slack, DM, event["ts"])))[0]
        assert reply["thread_ts"] == event["ts"]

        # A plain follow-up in that DM thread is a question (there are no mentions in DMs).
        follow_up = slack.post_user_message(DM, text="any action items?", thread_ts=event["ts"])
        await slack.send_event(server.events_url, follow_up)
        await wait_for(lambda: answers(slack, DM, event["ts"]))
        await settle(server)
        assert "any action items?" in str(gemini.interaction_requests[-1])


async def test_auto_off_channel_ignores_shared_clips(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    await server.runtime.store.update_channel_settings(CHANNEL, auto_transcribe=False)
    _, event = share(slack, voice_clip)
    assert (await slack.send_event(server.events_url, event)).status == 200
    await settle(server)
    assert slack.bot_replies(CHANNEL) == []
    assert await server.runtime.store.get_job(f"t:{CHANNEL}:{event['files'][0]['id']}") is None
    assert gemini.interaction_requests == []


async def test_own_and_other_bots_files_are_ignored_by_default(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    _, own = share(slack, voice_clip, user=slack.bot_user_id)
    own["bot_id"] = slack.bot_id
    _, other = share(slack, voice_clip, user="U0OTHERBOT")
    other["bot_id"] = "B0OTHER"
    for event in (own, other):
        assert (await slack.send_event(server.events_url, event)).status == 200
    await settle(server)
    assert slack.bot_replies(CHANNEL) == []
    assert gemini.interaction_requests == []


async def test_other_bots_are_answered_when_configured_but_never_the_bot_itself(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_answer_other_bots=True) as server:
        _, own = share(slack, voice_clip, user=slack.bot_user_id)
        own["bot_id"] = slack.bot_id
        _, other = share(slack, voice_clip, user="U0OTHERBOT")
        other["bot_id"] = "B0OTHER"
        for event in (own, other):
            await slack.send_event(server.events_url, event)
        await wait_for(lambda: transcripts(slack, CHANNEL, other["ts"]))
        await settle(server)
        assert transcripts(slack, CHANNEL, own["ts"]) == []
        assert len(gemini.interaction_requests) == 1


async def test_edits_and_deletions_are_acknowledged_and_ignored(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    _, shared = share(slack, voice_clip)
    message = {k: v for k, v in shared.items() if k not in ("channel", "channel_type")}
    edited = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": CHANNEL,
        "channel_type": "channel",
        "ts": "1700009999.000100",
        "event_ts": "1700009999.000100",
        "message": {**message, "text": "edited", "edited": {"user": "U0ALICE"}},
        "previous_message": message,
    }
    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": CHANNEL,
        "channel_type": "channel",
        "ts": "1700009999.000200",
        "deleted_ts": shared["ts"],
        "previous_message": message,
    }
    for event in (edited, deleted):
        # Slack's own top-level shape of an edit carries the files of the message inside.
        event["files"] = shared["files"]
        sent = await slack.send_event(server.events_url, event)
        assert sent.status == 200
    await settle(server)
    assert slack.bot_replies(CHANNEL) == []
    assert gemini.interaction_requests == []


async def test_file_shared_alone_is_acknowledged_without_work(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    file = slack.add_file(voice_clip.read_bytes())
    sent = await slack.send_event(server.events_url, slack.file_shared_event(file, channel=CHANNEL))
    assert sent.status == 200
    await settle(server)
    assert slack.calls_to("files.info") == []
    assert gemini.interaction_requests == []


async def test_home_tab_explains_use_and_shows_the_defaults(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        event = {
            "type": "app_home_opened",
            "user": "U0ALICE",
            "channel": "D0ALICE",
            "tab": "home",
            "event_ts": "1700000000.000900",
        }
        assert (await slack.send_event(server.events_url, event)).status == 200
        view = await wait_for(lambda: slack.home_views.get("U0ALICE"))
        text = str(view["blocks"])
        assert "/transcribe auto on|off" in text and "*Transcribe*" in text
        assert "automatic transcription *off*" in text and "auto-detect" in text
        assert "send me a voice note" in text

        await slack.send_event(server.events_url, {**event, "tab": "messages"})
        await settle(server)
        assert len(slack.calls_to("views.publish")) == 1
