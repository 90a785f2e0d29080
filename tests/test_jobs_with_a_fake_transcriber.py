"""The pipeline against the Slack emulator with a fake `Transcriber`: Gemini's wire aside."""

from __future__ import annotations

import json
from pathlib import Path

from bot.errors import GeminiUnavailableError
from bot.settings import Settings
from bot.transcript.model import Segment, Transcript
from tests.conftest import Server, settle, start_server, wait_for
from tests.emulators.slack import SlackEmulator
from tests.fakes import FakeTranscriber

CHANNEL = "C0GENERAL"


async def share_and_settle(slack: SlackEmulator, server: Server, clip: Path) -> str:
    """Share the clip, wait for the bot's answer and for the queue to be idle; the thread ts."""
    file = slack.add_file(clip.read_bytes())
    event = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]))
    await settle(server)
    return str(event["ts"])


async def test_the_backend_behind_the_protocol_gives_the_reply_and_is_closed(
    slack: SlackEmulator, settings: Settings, voice_clip: Path
) -> None:
    fake = FakeTranscriber()
    fake.enqueue(
        Transcript(
            summary="Ana asks for the budget.",
            segments=[Segment(speaker="Ana", timestamp="00:03", content="Budget by Friday?")],
        )
    )
    server = await start_server(settings, transcriber=fake)
    try:
        thread = await share_and_settle(slack, server, voice_clip)
    finally:
        await server.runner.cleanup()
    reply = json.dumps(slack.bot_replies(CHANNEL, thread))
    assert "Ana asks for the budget." in reply and "Budget by Friday?" in reply
    assert [c.method for c in fake.history] == ["transcribe"]
    assert 11.5 < (fake.history[0].audio_s or 0) < 12.5  # the prepared 12-second clip
    assert fake.closed


async def test_a_backend_failure_ends_in_one_warning(
    slack: SlackEmulator, settings: Settings, voice_clip: Path
) -> None:
    fake = FakeTranscriber()
    fake.enqueue(GeminiUnavailableError("The backend is down; try again in a few minutes."))
    server = await start_server(settings, transcriber=fake)
    try:
        thread = await share_and_settle(slack, server, voice_clip)
    finally:
        await server.runner.cleanup()
    replies = slack.bot_replies(CHANNEL, thread)
    assert len(replies) == 1
    assert replies[0]["text"].startswith(":warning:")
    assert "The backend is down" in replies[0]["text"]
