"""End to end: a shared clip → signed event → ack → Gemini → one threaded reply."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import Server, make_settings, settle, start_server, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio

CHANNEL = "C0GENERAL"


def _all_text(message: dict) -> str:
    return json.dumps(message.get("blocks") or []) + "\n" + str(message.get("text") or "")


async def test_shared_voice_clip_gets_one_threaded_transcript(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    file = slack.add_file(
        voice_clip.read_bytes(), name="audio_message.m4a", mimetype="audio/mp4", filetype="m4a"
    )
    event = slack.post_user_message(CHANNEL, files=[file])

    sent = await slack.send_event(server.events_url, event)

    assert sent.status == 200
    assert sent.elapsed_s < 1.0
    replies = await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]))
    await settle(server)
    assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1
    reply = replies[0]
    assert reply["thread_ts"] == event["ts"]
    # The answer Gemini gave is what was posted: summary and every segment.
    answer = json.loads(gemini.interaction_requests and _last_answer(gemini))
    body = _all_text(reply)
    assert answer["summary"][:40] in body
    for segment in answer["segments"]:
        assert segment["content"] in body
        assert segment["timestamp"] in body
    assert ("add", CHANNEL, event["ts"], "hourglass_flowing_sand") in slack.reaction_log
    assert slack.reactions[(CHANNEL, event["ts"])] == {"white_check_mark"}


def _last_answer(gemini: GeminiEmulator) -> str:
    interaction = list(gemini.interactions.values())[-1]
    return interaction["steps"][-1]["content"][0]["text"]


async def test_file_shared_and_retries_still_give_one_reply(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    file = slack.add_file(voice_clip.read_bytes(), name="memo.m4a", mimetype="audio/mp4")
    event = slack.post_user_message(CHANNEL, files=[file])
    first = await slack.send_event(server.events_url, event)
    shared = slack.file_shared_event(file, channel=CHANNEL)
    second = await slack.send_event(server.events_url, shared)
    for retry in (1, 2):
        again = await slack.send_event(
            server.events_url, event, event_id=first.event_id, retry_num=retry
        )
        assert again.status == 200
    assert first.status == second.status == 200
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]))
    await settle(server)
    assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1
    assert len(gemini.interaction_requests) == 1


async def test_bad_or_stale_signature_is_rejected_without_api_calls(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    file = slack.add_file(voice_clip.read_bytes())
    event = slack.post_user_message(CHANNEL, files=[file])
    before = len(slack.calls)
    bad = await slack.send_event(server.events_url, event, bad_signature=True)
    stale = await slack.send_event(server.events_url, event, timestamp=1_600_000_000)
    assert bad.status == 401
    assert stale.status == 401
    await settle(server)
    assert slack.calls[before:] == []
    assert await server.runtime.queue.depth() == 0


async def test_file_on_foreign_host_never_gets_the_token(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    foreign = slack.alt_base_url  # another host: 127.0.0.2
    file = slack.add_file(voice_clip.read_bytes(), download_host=foreign)
    event = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(server.events_url, event)
    replies = await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]))
    await settle(server)
    assert all(
        d.authorization is None for d in slack.file_downloads if d.host.startswith("127.0.0.2")
    )
    assert replies[0]["text"].startswith(":warning:")
    assert "outside Slack" in replies[0]["text"]
    assert gemini.interaction_requests == []


async def test_audio_content_is_escaped(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    evil = "<!channel> & <@U123>"
    gemini.script(
        {
            "summary": f"Summary {evil}",
            "segments": [
                {
                    "speaker": "Speaker 1",
                    "timestamp": "00:01",
                    "content": evil,
                    "language": "en",
                    "emotion": "neutral",
                },
                {
                    "speaker": "Speaker 2",
                    "timestamp": "00:05",
                    "content": "ok",
                    "language": "en",
                    "emotion": "happy",
                },
            ],
        }
    )
    file = slack.add_file(voice_clip.read_bytes())
    event = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(server.events_url, event)
    reply = (await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"])))[0]
    body = _all_text(reply)
    assert "<!channel>" not in body and "<@U123>" not in body
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in body


async def test_large_audio_goes_through_files_api_and_is_deleted(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(slack, gemini, tmp_path, scribe_inline_limit_mb=0.01)
    srv = await start_server(settings)
    try:
        clip = make_audio(tmp_path / "long.m4a", duration_s=30.0)
        file = slack.add_file(clip.read_bytes())
        event = slack.post_user_message(CHANNEL, files=[file])
        await slack.send_event(srv.events_url, event)
        await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]))
        await settle(srv)
    finally:
        await srv.runner.cleanup()
    request = gemini.interaction_requests[-1]
    blocks = request["input"] if isinstance(request["input"], list) else []
    flat = json.dumps(blocks)
    assert '"uri"' in flat and '"data"' not in flat
    uploads = [r for r in gemini.requests if r.path.startswith("/upload/")]
    assert uploads, "the audio was not uploaded through the Files API"
    assert len(gemini.deleted_files) == 1
    assert gemini.files == {}  # nothing left behind on Gemini's side


def test_serve_without_signing_secret_exits_with_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "SLACK_BOT_TOKEN": "xoxb-1-abc",
        "GEMINI_API_KEY": "k" * 20,
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "SLACK_SIGNING_SECRET" in lines[0]
    assert "xoxb-1-abc" not in proc.stderr
