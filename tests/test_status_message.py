"""A long recording's status message: posted at once, edited per finished part, then gone.

Acceptance 1 of issue 13, with the chunks' latency emulated at Gemini and one request slot,
so that the parts finish one after another.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import make_settings, settle, start_server, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio
from tests.test_long_recordings import long_clip

CHANNEL = "C0GENERAL"


def _text(call_params: dict[str, Any]) -> str:
    return str(call_params.get("text") or "")


async def _share(slack: SlackEmulator, url: str, clip: Path, mimetype: str) -> dict[str, Any]:
    file = slack.add_file(clip.read_bytes(), name=clip.name, mimetype=mimetype)
    event = slack.post_user_message(CHANNEL, files=[file])
    assert (await slack.send_event(url, event)).status == 200
    return event


def _transcript_parts(slack: SlackEmulator, event: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r for r in slack.bot_replies(CHANNEL, event["ts"]) if r["blocks"][0]["type"] == "header"
    ]


async def test_a_40_minute_recording_shows_each_finished_part_then_only_the_transcript(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    clip = long_clip(tmp_path / "all-hands.mp3", minutes=40)
    gemini.latency_s = 0.3  # each request; with one slot the parts finish one by one
    settings = make_settings(slack, gemini, tmp_path, scribe_max_concurrency=1)
    srv = await start_server(settings)
    try:
        event = await _share(slack, srv.events_url, clip, "audio/mpeg")
        await wait_for(lambda: _transcript_parts(slack, event), timeout=120)
        await settle(srv, timeout=60)
    finally:
        await srv.runner.cleanup()

    calls = [c for c in slack.calls if c.method in ("chat.postMessage", "chat.update")]
    first_part = next(
        i
        for i, c in enumerate(calls)
        if c.method == "chat.postMessage" and "Transcript" in str(c.params.get("blocks"))
    )
    status_posts = [
        c for c in calls if c.method == "chat.postMessage" and "Transcribing" in _text(c.params)
    ]
    assert len(status_posts) == 1, [_text(c.params) for c in status_posts]
    assert "all-hands.mp3" in _text(status_posts[0].params)
    assert "40 min" in _text(status_posts[0].params)
    before = [_text(c.params) for c in calls[:first_part] if c.method == "chat.update"]
    totals = {int(m.group(1)) for t in before if (m := re.search(r"of (\d+) parts", t))}
    assert len(totals) == 1, before
    (total,) = totals
    assert total >= 4  # 40 min in parts of at most 12 min
    for done in range(1, total + 1):
        assert any(f"{done} of {total} parts done" in t for t in before), (done, before)

    status_ts = status_posts[0].response["ts"]
    assert any(d["ts"] == status_ts for d in slack.deletes)  # the status message is gone
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert not any("Transcribing" in r["text"] for r in replies)
    # Exactly one transcript: one job's parts (one marker), each once.
    ids = [p["blocks"][0]["block_id"] for p in _transcript_parts(slack, event)]
    assert len({i.rsplit("-", 1)[0] for i in ids}) == 1 and len(ids) == len(set(ids)), ids
    assert all(not r["text"].startswith(":warning:") for r in replies)


async def test_a_short_clip_gets_no_status_message(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    clip = make_audio(tmp_path / "note.m4a", duration_s=12.0, codec="aac")
    srv = await start_server(make_settings(slack, gemini, tmp_path))
    try:
        event = await _share(slack, srv.events_url, clip, "audio/mp4")
        await wait_for(lambda: _transcript_parts(slack, event), timeout=30)
        await settle(srv)
    finally:
        await srv.runner.cleanup()
    assert slack.calls_to("chat.update") == []
    assert slack.calls_to("chat.delete") == []
    assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1
