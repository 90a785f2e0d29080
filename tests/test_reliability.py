"""Faults injected at Gemini and Slack: every job ends in one clear outcome, nothing twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Server, make_settings, settle, start_server, wait_for
from tests.emulators.gemini import Blocked, Fault, GeminiEmulator, Truncated
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio

CHANNEL = "C0GENERAL"


@pytest.fixture
def work_tmp(tmp_path: Path) -> Path:
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
async def srv(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, work_tmp: Path
) -> AsyncIterator[Server]:
    settings = make_settings(slack, gemini, tmp_path, scribe_tmp_dir=str(work_tmp))
    server = await start_server(settings)
    try:
        yield server
    finally:
        await server.runner.cleanup()


async def share_clip(slack: SlackEmulator, srv: Server, clip: Path, **file_kw: object) -> dict:
    file = slack.add_file(clip.read_bytes(), **file_kw)  # type: ignore[arg-type]
    event = slack.post_user_message(CHANNEL, files=[file])
    sent = await slack.send_event(srv.events_url, event)
    assert sent.status == 200
    return event


async def one_reply(slack: SlackEmulator, srv: Server, event: dict) -> dict:
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=30)
    await settle(srv, timeout=30)
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1, [r.get("text") for r in replies]
    return replies[0]


def is_transcript(reply: dict) -> bool:
    header = reply["blocks"][0]
    return (
        not reply["text"].startswith(":warning:")
        and header["type"] == "header"
        and header["text"]["text"].startswith("Transcript")
    )


async def test_gemini_429_twice_then_success(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, voice_clip: Path
) -> None:
    gemini.fail_next(2, 429, path_contains="interactions", headers={"Retry-After": "0"})
    event = await share_clip(slack, srv, voice_clip)
    reply = await one_reply(slack, srv, event)
    assert is_transcript(reply)
    assert len(gemini.interaction_requests) == 3


async def test_gemini_500_always_fails_clearly_then_recovers(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, voice_clip: Path, work_tmp: Path
) -> None:
    gemini.fail_always(500, path_contains="interactions")
    event = await share_clip(slack, srv, voice_clip)
    reply = await one_reply(slack, srv, event)
    assert reply["text"].startswith(":warning:")
    assert "HTTP 500" in reply["text"] and "Try again" in reply["text"]
    assert slack.reactions[(CHANNEL, event["ts"])] == {"warning"}
    assert list(work_tmp.iterdir()) == []

    gemini.fail_always(None)
    second = await share_clip(slack, srv, make_audio(work_tmp.parent / "b.m4a", duration_s=6))
    assert is_transcript(await one_reply(slack, srv, second))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("this is not json", "not a usable transcript"),
        (Blocked(), "declined"),
        (Fault(status=400, message="Request contains an invalid argument."), "refused"),
    ],
    ids=["malformed-json", "blocked", "bad-request"],
)
async def test_unusable_gemini_answers_end_in_a_clear_message(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    srv: Server,
    voice_clip: Path,
    work_tmp: Path,
    answer: object,
    expected: str,
) -> None:
    gemini.script(answer)
    event = await share_clip(slack, srv, voice_clip)
    reply = await one_reply(slack, srv, event)
    assert reply["text"].startswith(":warning:")
    assert expected in reply["text"]
    assert list(work_tmp.iterdir()) == []


async def test_gemini_timeout_is_reported(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    settings = make_settings(
        slack, gemini, tmp_path, scribe_gemini_timeout_s=0.5, scribe_gemini_attempts=1
    )
    gemini.hang_s = 3
    server = await start_server(settings)
    try:
        event = await share_clip(slack, server, voice_clip)
        reply = await one_reply(slack, server, event)
    finally:
        await server.runner.cleanup()
    assert reply["text"].startswith(":warning:")
    assert "timed out" in reply["text"] or "in time" in reply["text"]


async def test_truncated_answer_falls_back_to_chunks(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, tmp_path: Path
) -> None:
    clip = make_audio(tmp_path / "five-min.m4a", duration_s=300.0)
    gemini.script(Truncated({"summary": "x", "segments": []}))
    event = await share_clip(slack, srv, clip)
    reply = await one_reply(slack, srv, event)
    assert is_transcript(reply)
    # One truncated answer, then a roster pass, ≥ 2 chunk requests and a summary.
    assert len(gemini.interaction_requests) >= 5
    body = json.dumps(reply["blocks"])
    assert "04:" in body  # the second half of the recording is in the reply


async def test_slack_429_on_post_still_one_reply(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, voice_clip: Path
) -> None:
    slack.fail("chat.postMessage", "ratelimited", retry_after=1)
    event = await share_clip(slack, srv, voice_clip)
    reply = await one_reply(slack, srv, event)
    assert is_transcript(reply)
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 2  # the 429, then the retry by slack_sdk's handler


@pytest.mark.parametrize(
    ("file_kw", "expected"),
    [
        ({"visible_to_bot": False}, "/invite @slack-scribe"),
    ],
    ids=["file-not-found"],
)
async def test_file_access_problems(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    srv: Server,
    voice_clip: Path,
    file_kw: dict,
    expected: str,
) -> None:
    event = await share_clip(slack, srv, voice_clip, **file_kw)
    reply = await one_reply(slack, srv, event)
    assert reply["text"].startswith(":warning:")
    assert expected in reply["text"]
    assert gemini.interaction_requests == []


async def test_sign_in_page_instead_of_file(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, voice_clip: Path
) -> None:
    file = slack.add_file(voice_clip.read_bytes())
    # files.info works, but the download ends on Slack's HTML sign-in page (200, text/html),
    # which is what Slack serves when the token may not read the file.
    slack.files[file["id"]]["file"]["url_private_download"] = (
        f"{slack.base_url}/?redir=%2Ffiles-pri"
    )
    event = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(srv.events_url, event)
    reply = await one_reply(slack, srv, event)
    assert reply["text"].startswith(":warning:")
    assert "sign-in page" in reply["text"]
    assert "/invite" in reply["text"]
    assert gemini.interaction_requests == []


async def test_download_cut_off_midway(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, voice_clip: Path, work_tmp: Path
) -> None:
    file = slack.add_file(voice_clip.read_bytes())
    slack.drop_download_after(file["id"], 1000)
    event = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(srv.events_url, event)
    reply = await one_reply(slack, srv, event)
    assert reply["text"].startswith(":warning:")
    assert "cut off" in reply["text"]
    assert gemini.interaction_requests == []
    assert list(work_tmp.iterdir()) == []


async def test_not_in_channel_fails_without_crashing(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, voice_clip: Path
) -> None:
    slack.add_channel("C0LOCKED", bot_is_member=False)
    file = slack.add_file(voice_clip.read_bytes())
    event = slack.post_user_message("C0LOCKED", files=[file])
    await slack.send_event(srv.events_url, event)
    await settle(srv, timeout=30)
    record = await srv.runtime.store.get_job(f"t:C0LOCKED:{file['id']}")
    assert record is not None and record.state == "failed"
    assert slack.bot_replies("C0LOCKED") == []
    # The bot keeps serving everyone else.
    other = await share_clip(slack, srv, voice_clip)
    assert is_transcript(await one_reply(slack, srv, other))


async def test_job_that_keeps_crashing_the_process_is_given_up_with_a_message(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    from bot.jobs.spec import Job, transcribe_job_id
    from bot.queue.local import LocalQueue
    from bot.store.sqlite_db import SqliteDatabase

    file = slack.add_file(voice_clip.read_bytes())
    event = slack.post_user_message(CHANNEL, files=[file])
    settings = make_settings(slack, gemini, tmp_path)
    # The journal as three crashed processes left it: running, three starts.
    db = await SqliteDatabase.open(settings.scribe_db)
    job = Job(
        id=transcribe_job_id(CHANNEL, file["id"]),
        channel_id=CHANNEL,
        thread_ts=event["ts"],
        message_ts=event["ts"],
        file_id=file["id"],
    )
    assert await LocalQueue(db, concurrency=1).submit(job)
    await db.execute("UPDATE jobs SET state = 'running', attempts = 3")
    await db.close()

    server = await start_server(settings)
    try:
        reply = await one_reply(slack, server, event)
        record = await server.runtime.store.get_job(job.id)
    finally:
        await server.runner.cleanup()
    assert reply["text"].startswith(":warning:")
    assert "failed repeatedly" in reply["text"]
    assert record is not None and record.state == "failed"
    assert gemini.interaction_requests == []


async def test_after_a_failure_a_mention_in_the_thread_tries_again(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, voice_clip: Path
) -> None:
    gemini.fail_always(503, path_contains="interactions")
    event = await share_clip(slack, srv, voice_clip)
    failure = await one_reply(slack, srv, event)
    assert "mention me in this thread" in failure["text"]

    gemini.fail_always(None)
    mention = slack.post_user_message(
        CHANNEL, text=f"<@{slack.bot_user_id}>", thread_ts=event["ts"]
    )
    await slack.send_event(srv.events_url, slack.app_mention_event(mention))
    await wait_for(lambda: len(slack.bot_replies(CHANNEL, event["ts"])) == 2, timeout=30)
    await settle(srv)
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 2
    assert is_transcript(replies[1])


async def test_job_past_its_budget_ends_with_a_message(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    settings = make_settings(slack, gemini, tmp_path, scribe_job_budget_s=1.0)
    gemini.latency_s = 5
    server = await start_server(settings)
    try:
        event = await share_clip(slack, server, voice_clip)
        reply = await one_reply(slack, server, event)
    finally:
        await server.runner.cleanup()
    assert reply["text"].startswith(":warning:")
    assert "longer than" in reply["text"]
