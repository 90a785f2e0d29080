"""Slack Connect channels and some DMs carry file stubs; every way in resolves them with files.info.

The stub (`{"id", "mode": "file_access", "file_access": "check_file_info", "created": 0,
"timestamp": 0, "user": ""}`) has no name, type or link: whether it is a recording is only
known once `files.info` answered, so it is a candidate everywhere a file could be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.jobs.spec import transcribe_job_id
from tests.asking import ACK_LIMIT_S, command, link, notices, running, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator

CONNECT = "C0CONNECT"
DM = "D0ALICE"


def share_stub(
    slack: SlackEmulator,
    clip: Path,
    channel: str = CONNECT,
    *,
    thread_ts: str | None = None,
    text: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A clip shared where Slack sends a stub: (the whole file, the message event)."""
    file = slack.add_file(clip.read_bytes(), name="memo.m4a", mimetype="audio/mp4")
    event = slack.post_user_message(
        channel, files=[file], thread_ts=thread_ts, text=text, file_stubs=True
    )
    assert event["files"][0]["file_access"] == "check_file_info"
    assert "mimetype" not in event["files"][0] and "url_private" not in event["files"][0]
    return file, event


def looked_up(slack: SlackEmulator, file_id: str) -> bool:
    return any(c.params.get("file") == file_id for c in slack.calls_to("files.info"))


async def test_stub_share_in_a_slack_connect_channel_gets_a_transcript_in_its_thread(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    slack.add_channel(CONNECT, name="with-partner", is_ext_shared=True)
    file, event = share_stub(slack, voice_clip)
    sent = await slack.send_event(server.events_url, event)
    assert sent.status == 200 and sent.elapsed_s < 1.0
    reply = (await wait_for(lambda: transcripts(slack, CONNECT, event["ts"])))[0]
    assert reply["thread_ts"] == event["ts"]
    await settle(server)
    assert len(slack.bot_replies(CONNECT, event["ts"])) == 1
    assert looked_up(slack, file["id"])
    assert len(gemini.interaction_requests) == 1


async def test_stub_voice_note_in_a_dm_gets_a_transcript_in_its_thread(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_channel(DM, is_im=True, user="U0ALICE")
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        file, event = share_stub(slack, voice_clip, DM)
        assert event["channel_type"] == "im"
        assert (await slack.send_event(server.events_url, event)).status == 200
        reply = (await wait_for(lambda: transcripts(slack, DM, event["ts"])))[0]
        assert reply["thread_ts"] == event["ts"]
        await settle(server)
        assert len(slack.bot_replies(DM, event["ts"])) == 1
        assert looked_up(slack, file["id"])


async def test_stub_of_a_document_stays_silent_in_a_dm_and_a_channel(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server
) -> None:
    # Only files.info can tell a stub is a PDF; then nothing is said, as for a visible PDF.
    slack.add_channel(DM, is_im=True, user="U0ALICE")
    slack.add_channel(CONNECT, is_ext_shared=True)
    pdf = slack.add_file(b"%PDF-1.4", name="a.pdf", mimetype="application/pdf", filetype="pdf")
    for channel in (DM, CONNECT):
        event = slack.post_user_message(channel, files=[pdf], file_stubs=True)
        assert (await slack.send_event(server.events_url, event)).status == 200
    await wait_for(lambda: len(slack.calls_to("files.info")) == 2)
    await settle(server)
    assert slack.bot_replies(DM) == [] and slack.bot_replies(CONNECT) == []
    assert gemini.interaction_requests == []


async def test_shortcut_on_a_stub_message_transcribes_it(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_channel(CONNECT, is_ext_shared=True)
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, event = share_stub(slack, voice_clip)
        sent = await slack.send_message_shortcut(server.events_url, message=event, channel=CONNECT)
        assert sent.status == 200 and sent.elapsed_s < ACK_LIMIT_S
        await wait_for(lambda: transcripts(slack, CONNECT, event["ts"]))
        await settle(server)
        assert notices(slack) == []


async def test_mention_carrying_a_stub_transcribes_it_once(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_channel(CONNECT, is_ext_shared=True)
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, message = share_stub(slack, voice_clip, text=f"<@{slack.bot_user_id}> please")
        await slack.send_event(server.events_url, slack.app_mention_event(message))
        await slack.send_event(server.events_url, message)  # the message event arrives too
        await wait_for(lambda: transcripts(slack, CONNECT, message["ts"]))
        await settle(server)
        assert len(slack.bot_replies(CONNECT, message["ts"])) == 1
        assert len(gemini.interaction_requests) == 1


async def test_mention_in_a_stub_clips_thread_finds_it_in_the_replies(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_channel(CONNECT, is_ext_shared=True)
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, event = share_stub(slack, voice_clip)
        asked = slack.post_user_message(
            CONNECT, text=f"<@{slack.bot_user_id}>", thread_ts=event["ts"]
        )
        await slack.send_event(server.events_url, slack.app_mention_event(asked))
        await wait_for(lambda: transcripts(slack, CONNECT, event["ts"]))
        await settle(server)
        assert notices(slack) == []


async def test_transcribe_without_argument_finds_a_stub_clip_in_history(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_channel(CONNECT, is_ext_shared=True)
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, event = share_stub(slack, voice_clip)
        assert "Looking for the latest" in await command(slack, server, channel=CONNECT)
        await wait_for(lambda: transcripts(slack, CONNECT, event["ts"]))
        await settle(server)
        assert notices(slack) == []


async def test_transcribe_link_to_a_stub_message_transcribes_it(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_channel(CONNECT, is_ext_shared=True)
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        file, event = share_stub(slack, voice_clip)
        assert "On it" in await command(slack, server, link(slack, CONNECT, event["ts"]))
        await wait_for(lambda: transcripts(slack, CONNECT, event["ts"]))
        await settle(server)
        job = await server.runtime.store.get_job(transcribe_job_id(CONNECT, file["id"]))
        assert job is not None and job.state == "done"


async def test_a_connect_file_slack_will_not_open_for_the_bot_is_silent_when_automatic(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    """files.info answers `access_denied` for some Slack Connect files (Slack's method docs)."""
    slack.add_channel("C0SHARED", name="with-partner", is_ext_shared=True)
    async with running(slack, gemini, tmp_path) as server:
        file = slack.add_file(voice_clip.read_bytes(), user="U0ALICE")
        slack.files[file["id"]]["access_denied"] = True
        event = slack.post_user_message("C0SHARED", files=[file])
        await slack.send_event(server.events_url, event)
        await wait_for(lambda: slack.calls_to("files.info"))
        await settle(server)
        assert slack.bot_replies("C0SHARED") == []  # not an "internal error" warning
        failures = server.runtime.metrics.render().decode()
        assert 'scribe_job_failures_total{reason="access_denied"} 1.0' in failures

        # Asked for, the person who asked is told why (only they see it).
        await slack.send_message_shortcut(server.events_url, message=event, channel="C0SHARED")
        await wait_for(lambda: notices(slack))
        await settle(server)
        assert "won't let me open" in notices(slack)[0]
        assert slack.bot_replies("C0SHARED") == []
