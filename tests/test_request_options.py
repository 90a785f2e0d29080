"""`/transcribe <link> [language <code>] [translate <code>]`: options for one request.

Asked again with other options, the file is transcribed again and the new transcript
replaces the old one's messages in place: one transcript per file, never two.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.asking import CHANNEL, command, link, notices, share, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator


def _prompts_since(gemini: GeminiEmulator, start: int) -> str:
    return json.dumps(gemini.interaction_requests[start:])


async def test_other_options_transcribe_again_and_replace_the_transcript_in_place(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    (first,) = await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
    await settle(server)
    before = len(gemini.interaction_requests)

    await command(slack, server, link(slack, CHANNEL, event["ts"]) + " language de translate en")
    await wait_for(lambda: slack.calls_to("chat.update"), timeout=30)
    await settle(server, timeout=30)
    asked = _prompts_since(gemini, before)
    assert "mostly in 'de'" in asked  # the request's language reached Gemini
    parts = transcripts(slack, CHANNEL, event["ts"])
    assert [p["ts"] for p in parts] == [first["ts"]]  # the same message, edited in place
    assert parts[0].get("edited")
    assert not [n for n in notices(slack) if "already" in n]

    # The same options again: nothing to redo.
    slack.response_url_posts.clear()
    await command(slack, server, link(slack, CHANNEL, event["ts"]) + " language de translate en")
    await wait_for(lambda: slack.response_url_posts)
    await settle(server)
    assert "already has a transcript" in notices(slack)[0]
    assert len(transcripts(slack, CHANNEL, event["ts"])) == 1


async def test_a_first_request_with_options_uses_them(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    _, event = share(slack, voice_clip)
    # Not sent as an event: only the command asks for it, with its options.
    await command(slack, server, link(slack, CHANNEL, event["ts"]) + " language fr")
    await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]), timeout=30)
    await settle(server)
    assert "mostly in 'fr'" in _prompts_since(gemini, 0)
