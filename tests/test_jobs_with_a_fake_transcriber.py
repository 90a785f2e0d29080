"""The pipeline against the Slack emulator with a fake `Transcriber`: Gemini's wire aside."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from bot.app import Runtime
from bot.errors import GeminiUnavailableError
from bot.settings import Settings
from bot.transcript.model import Segment, Transcript
from bot.web import build_web_app
from tests.conftest import Server, settle, wait_for
from tests.emulators.slack import SlackEmulator
from tests.fakes import FakeTranscriber

CHANNEL = "C0GENERAL"


async def serve(settings: Settings, fake: FakeTranscriber) -> Server:
    runtime = await Runtime.create(settings, transcriber=fake)
    runner = web.AppRunner(build_web_app(runtime), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    return Server(url=url, events_url=url + "/slack/events", runtime=runtime, runner=runner)


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
    server = await serve(settings, fake)
    try:
        file = slack.add_file(voice_clip.read_bytes())
        event = slack.post_user_message(CHANNEL, files=[file])
        await slack.send_event(server.events_url, event)
        await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]))
        await settle(server)
    finally:
        await server.runner.cleanup()
    reply = json.dumps(slack.bot_replies(CHANNEL, event["ts"]))
    assert "Ana asks for the budget." in reply and "Budget by Friday?" in reply
    assert [c.method for c in fake.history] == ["transcribe"]
    assert 11.5 < (fake.history[0].audio_s or 0) < 12.5  # the prepared 12-second clip
    assert fake.closed


async def test_a_backend_failure_ends_in_one_warning(
    slack: SlackEmulator, settings: Settings, voice_clip: Path
) -> None:
    fake = FakeTranscriber()
    fake.enqueue(GeminiUnavailableError("The backend is down; try again in a few minutes."))
    server = await serve(settings, fake)
    try:
        file = slack.add_file(voice_clip.read_bytes())
        event = slack.post_user_message(CHANNEL, files=[file])
        await slack.send_event(server.events_url, event)
        await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]))
        await settle(server)
    finally:
        await server.runner.cleanup()
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1
    assert replies[0]["text"].startswith(":warning:")
    assert "The backend is down" in replies[0]["text"]
