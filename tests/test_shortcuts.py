"""The "Transcribe" message shortcut (`payload=` interactivity through the real Bolt app)."""

from __future__ import annotations

from pathlib import Path

from tests.asking import ACK_LIMIT_S, CHANNEL, notices, running, share, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator


async def test_shortcut_transcribes_into_the_thread_even_with_auto_off(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, event = share(slack, voice_clip)
        await slack.send_event(server.events_url, event)
        await settle(server)
        assert slack.bot_replies(CHANNEL) == []

        sent = await slack.send_message_shortcut(server.events_url, message=event)
        assert sent.status == 200 and sent.elapsed_s < ACK_LIMIT_S
        reply = (await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"])))[0]
        assert reply["thread_ts"] == event["ts"]
        await settle(server)
        assert notices(slack) == []


async def test_shortcut_on_an_already_transcribed_clip_posts_nothing_new(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
    await settle(server)
    await slack.send_message_shortcut(server.events_url, message=event)
    await wait_for(lambda: slack.response_url_posts)
    assert "already has a transcript" in notices(slack)[0]
    assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1


async def test_shortcut_on_a_message_without_media_says_so(
    slack: SlackEmulator, server: Server
) -> None:
    message = slack.post_user_message(CHANNEL, text="no files here")
    sent = await slack.send_message_shortcut(server.events_url, message=message)
    assert sent.status == 200 and sent.elapsed_s < ACK_LIMIT_S
    assert "no audio or video" in notices(slack)[0]
    text_file = slack.add_file(b"notes", name="notes.txt", mimetype="text/plain", filetype="text")
    with_text = slack.post_user_message(CHANNEL, files=[text_file])
    await slack.send_message_shortcut(server.events_url, message=with_text)
    assert "has files, but no audio or video" in notices(slack)[1]
    await settle(server)
    assert slack.bot_replies(CHANNEL) == []


async def test_shortcut_where_the_bot_is_not_a_member_says_how_to_invite_it(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    slack.add_channel("C0SECRET", bot_is_member=False)
    _, event = share(slack, voice_clip, "C0SECRET")
    await slack.send_message_shortcut(server.events_url, message=event, channel="C0SECRET")
    await wait_for(lambda: slack.response_url_posts)
    assert "/invite @slack-scribe" in notices(slack)[0]
    await settle(server)
    assert slack.calls_to("chat.postMessage") == []


async def test_unknown_shortcut_is_not_handled(slack: SlackEmulator, server: Server) -> None:
    message = slack.post_user_message(CHANNEL, text="x")
    sent = await slack.send_message_shortcut(
        server.events_url, message=message, callback_id="something_else"
    )
    assert sent.status == 404
