"""Broken or non-media uploads, end to end: a clear thread message (or silence), no Gemini call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.conftest import Server, make_settings, settle, start_server, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio, make_video

CHANNEL = "C0GENERAL"


def corrupt(tmp: Path) -> bytes:
    good = make_audio(tmp / "c.m4a", duration_s=5).read_bytes()
    return good[:64] + bytes(range(256)) * 40  # a real header, then garbage


def truncated(tmp: Path) -> bytes:
    good = make_audio(tmp / "t.m4a", duration_s=8).read_bytes()
    return good[: len(good) // 3]


def silent(tmp: Path) -> bytes:
    return make_audio(tmp / "s.m4a", duration_s=5, silent=True).read_bytes()


def video_without_audio(tmp: Path) -> bytes:
    return make_video(tmp / "v.mp4", duration_s=3, with_audio=False).read_bytes()


def empty(tmp: Path) -> bytes:
    return b""


CASES: list[tuple[str, Callable[[Path], bytes], str, str]] = [
    ("corrupt", corrupt, "audio/mp4", "damaged"),
    ("truncated", truncated, "audio/mp4", "damaged"),
    ("zero-length", empty, "audio/mp4", "empty"),
    ("silence", silent, "audio/mp4", "silen"),
    ("video-without-audio", video_without_audio, "video/mp4", "no sound track"),
]


@pytest.fixture
async def srv(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> AsyncIterator[tuple[Server, Path]]:
    work = tmp_path / "work"
    work.mkdir()
    server = await start_server(make_settings(slack, gemini, tmp_path, scribe_tmp_dir=str(work)))
    try:
        yield server, work
    finally:
        await server.runner.cleanup()


@pytest.mark.parametrize(("name", "make", "mimetype", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_requested_broken_file_gets_a_clear_message(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    srv: tuple[Server, Path],
    tmp_path: Path,
    name: str,
    make: Callable[[Path], bytes],
    mimetype: str,
    expected: str,
) -> None:
    server, work = srv
    file = slack.add_file(make(tmp_path), name=f"{name}.mp4", mimetype=mimetype, filetype="mp4")
    message = slack.post_user_message(CHANNEL, files=[file])
    sent = await slack.send_message_shortcut(server.events_url, message=message)
    assert sent.status == 200
    await wait_for(lambda: slack.bot_replies(CHANNEL, message["ts"]))
    await settle(server)
    replies = slack.bot_replies(
        CHANNEL, message["ts"]
    )  # after settling: a late second reply counts
    assert len(replies) == 1
    text = replies[0]["text"]
    assert text.startswith(":warning:")
    assert expected in text.lower(), text
    assert gemini.interaction_requests == []
    assert list(work.iterdir()) == []


async def test_automatic_job_on_a_file_without_audio_stays_silent(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: tuple[Server, Path], tmp_path: Path
) -> None:
    server, work = srv
    file = slack.add_file(
        video_without_audio(tmp_path), name="screen.mp4", mimetype="video/mp4", filetype="mp4"
    )
    event = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: slack.calls_to("files.info") or slack.file_downloads)
    await settle(server)
    assert slack.bot_replies(CHANNEL) == []
    assert gemini.interaction_requests == []
    assert slack.reactions.get((CHANNEL, event["ts"]), set()) == set()
    assert list(work.iterdir()) == []


async def test_recording_over_the_length_limit_is_refused_with_both_lengths(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(slack, gemini, tmp_path, scribe_max_audio_minutes=1)
    server = await start_server(settings)
    try:
        clip = make_audio(tmp_path / "long.m4a", duration_s=90.0)
        file = slack.add_file(clip.read_bytes())
        event = slack.post_user_message(CHANNEL, files=[file])
        await slack.send_event(server.events_url, event)
        reply = (await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"])))[0]
        await settle(server)
    finally:
        await server.runner.cleanup()
    assert reply["text"].startswith(":warning:")
    assert "1 min 30 s" in reply["text"] or "1:30" in reply["text"], reply["text"]
    assert "1 min" in reply["text"]
    assert gemini.interaction_requests == []


async def test_file_over_the_size_limit_is_refused_before_downloading(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(slack, gemini, tmp_path, scribe_max_file_mb=1)
    server = await start_server(settings)
    try:
        big = make_audio(tmp_path / "big.wav", duration_s=30.0, codec="pcm_s16le")
        assert big.stat().st_size > 1024 * 1024
        file = slack.add_file(big.read_bytes(), name="big.wav", mimetype="audio/wav")
        event = slack.post_user_message(CHANNEL, files=[file])
        await slack.send_event(server.events_url, event)
        reply = (await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"])))[0]
        await settle(server)
    finally:
        await server.runner.cleanup()
    assert reply["text"].startswith(":warning:")
    assert "limit here is 1 MB" in reply["text"], reply["text"]
    assert slack.file_downloads == []
    assert gemini.interaction_requests == []


async def test_same_file_in_two_channels_gets_two_replies_and_one_gemini_call(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: tuple[Server, Path], voice_clip: Path
) -> None:
    server, _work = srv
    slack.add_channel("C0SECOND")
    file = slack.add_file(voice_clip.read_bytes())
    first = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(server.events_url, first)
    await wait_for(lambda: slack.bot_replies(CHANNEL, first["ts"]))
    second = slack.post_user_message("C0SECOND", files=[file])
    await slack.send_event(server.events_url, second)
    await wait_for(lambda: slack.bot_replies("C0SECOND", second["ts"]))
    await settle(server)
    assert len(slack.bot_replies(CHANNEL, first["ts"])) == 1
    assert len(slack.bot_replies("C0SECOND", second["ts"])) == 1
    assert len(gemini.interaction_requests) == 1
