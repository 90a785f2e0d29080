"""Transient failures are retried by the queue with due times, without holding a slot.

Acceptance 2 of issue 13: Gemini unavailable for a while, then fine → the transcript
arrives with no human action; another clip is answered while the first waits; a restart
during the wait keeps the due time. The delays are scaled down (seconds, not minutes).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.errors import GeminiUnavailableError, TooLongError
from bot.jobs.retries import MAX_DELAY_S, after_transient_failure, is_transient, next_try_at
from bot.jobs.spec import Job
from bot.store.sqlite_db import SqliteDatabase
from tests.conftest import Server, make_settings, settle, start_server, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio

CHANNEL = "C0GENERAL"


# ----------------------------------------------------------------------- the policy


def _job(**kw: Any) -> Job:
    return Job(id="t:C1:F1", channel_id="C1", **kw)


@pytest.mark.parametrize(
    ("failures", "jitter", "delay"),
    [
        (0, 0.0, 5.0),  # half of the first delay at the lowest jitter
        (0, 1.0, 10.0),
        (1, 1.0, 20.0),  # doubles with each failure in a row
        (3, 1.0, 80.0),
        (10, 1.0, MAX_DELAY_S),  # capped
    ],
)
def test_the_delay_doubles_with_jitter_and_a_cap(
    failures: int, jitter: float, delay: float
) -> None:
    job = _job(transient_failures=failures, transient_since=1000.0)
    due = next_try_at(job, 1000.0, window_s=10_000, first_delay_s=10.0, jitter=lambda: jitter)
    assert due == pytest.approx(1000.0 + delay)


def test_the_last_try_is_at_the_end_of_the_window_and_none_after_it() -> None:
    job = _job(transient_failures=5, transient_since=1000.0)
    kw: dict[str, Any] = {"window_s": 900.0, "first_delay_s": 10.0, "jitter": lambda: 1.0}
    assert next_try_at(job, 1850.0, **kw) == 1900.0  # 300 s would pass the window's end
    assert next_try_at(job, 1900.0, **kw) is None
    assert next_try_at(_job(), 5.0, window_s=0, first_delay_s=10.0) is None


def test_the_window_counts_from_the_first_failure_in_a_row() -> None:
    first = after_transient_failure(_job(), 100.0)
    second = after_transient_failure(first, 160.0)
    assert (second.transient_failures, second.transient_since) == (2, 100.0)


def _slack_error(status: int, error: str) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,  # type: ignore[arg-type]
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=status,
    )
    return SlackApiError(error, response)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (GeminiUnavailableError("busy"), True),
        (TooLongError("too long"), False),
        (TimeoutError(), True),
        (_slack_error(429, "ratelimited"), True),
        (_slack_error(503, "service_unavailable"), True),
        (_slack_error(200, "fatal_error"), True),
        (_slack_error(200, "channel_not_found"), False),
        (_slack_error(200, "not_in_channel"), False),
        (ValueError("a bug"), False),
    ],
)
def test_which_failures_are_worth_another_try(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


# ----------------------------------------------------------------------- end to end


def _settings(slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path) -> Any:
    return make_settings(
        slack,
        gemini,
        tmp_path,
        # One worker: a job that waited in its slot would keep every other clip waiting.
        scribe_max_concurrency=1,
        scribe_retry_window_s=120,
        scribe_retry_first_delay_s=6.0,  # the first retry is due 3-6 s later
        # The long clip goes through the Files API, the short one inline: the outage below
        # hits only uploads, so the short clip can be answered while the long one waits.
        scribe_inline_limit_mb=0.05,
    )


async def _share(slack: SlackEmulator, srv: Server, clip: Path) -> dict[str, Any]:
    file = slack.add_file(clip.read_bytes(), name=clip.name)
    event = slack.post_user_message(CHANNEL, files=[file])
    assert (await slack.send_event(srv.events_url, event)).status == 200
    return event


def _texts(slack: SlackEmulator, event: dict[str, Any]) -> list[str]:
    return [str(r.get("text")) for r in slack.bot_replies(CHANNEL, event["ts"])]


def _has_transcript(slack: SlackEmulator, event: dict[str, Any]) -> bool:
    return any(r["blocks"][0]["type"] == "header" for r in slack.bot_replies(CHANNEL, event["ts"]))


async def test_gemini_down_then_up_transcribes_on_its_own_without_holding_a_slot(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    long_clip = make_audio(tmp_path / "meeting.m4a", duration_s=40.0, codec="aac")
    short_clip = make_audio(tmp_path / "note.m4a", duration_s=3.0, codec="aac")
    gemini.fail_always(503, path_contains="/upload/")
    srv = await start_server(_settings(slack, gemini, tmp_path))
    try:
        first = await _share(slack, srv, long_clip)
        # The job waits: its status message says so and when it tries again.
        await wait_for(lambda: any("try again" in t for t in _texts(slack, first)), timeout=20)
        waiting = _texts(slack, first)
        assert len(waiting) == 1 and not waiting[0].startswith(":warning:"), waiting
        # Meanwhile the only worker is free: another clip is transcribed.
        second = await _share(slack, srv, short_clip)
        await wait_for(lambda: _has_transcript(slack, second), timeout=20)
        assert not _has_transcript(slack, first)
        gemini.fail_always(None)  # Gemini is back
        await wait_for(lambda: _has_transcript(slack, first), timeout=30)
        await settle(srv, timeout=20)
    finally:
        await srv.runner.cleanup()
    replies = slack.bot_replies(CHANNEL, first["ts"])
    # Exactly the transcript: no warning, and the status message is gone.
    assert all(not r["text"].startswith(":warning:") for r in replies), _texts(slack, first)
    assert not any("try again" in r["text"] for r in replies)
    assert replies[0]["blocks"][0]["type"] == "header"
    assert len(slack.bot_replies(CHANNEL, second["ts"])) == 1


async def test_a_restart_during_the_wait_keeps_the_due_time(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    clip = make_audio(tmp_path / "meeting.m4a", duration_s=40.0, codec="aac")
    gemini.fail_always(503, path_contains="/upload/")
    settings = _settings(slack, gemini, tmp_path)
    srv = await start_server(settings)
    try:
        event = await _share(slack, srv, clip)
        await wait_for(lambda: any("try again" in t for t in _texts(slack, event)), timeout=20)
    finally:
        await srv.runner.cleanup()
    db = await SqliteDatabase.open(settings.scribe_db)
    try:
        row = await db.fetchone("SELECT state, due_at, spec FROM jobs")
    finally:
        await db.close()
    assert row is not None
    state, due_at, spec = row
    assert state == "queued" and due_at > time.time()
    assert Job.model_validate_json(spec).transient_failures == 1
    gemini.fail_always(None)
    uploads_before = sum(1 for r in gemini.requests if r.path.startswith("/upload/"))
    srv = await start_server(settings)
    try:
        await wait_for(lambda: _has_transcript(slack, event), timeout=30)
        await settle(srv, timeout=20)
    finally:
        await srv.runner.cleanup()
    tried = [r for r in gemini.requests if r.path.startswith("/upload/")][uploads_before:]
    assert tried, "the job must have tried again through the Files API"
    # Not a moment before its due time, though the new process started earlier.
    assert min(r.at for r in tried) >= due_at - 0.05
    assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1


async def test_past_the_window_the_warning_carries_a_retry_button(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    clip = make_audio(tmp_path / "note.m4a", duration_s=3.0, codec="aac")
    gemini.fail_always(503)
    settings = make_settings(
        slack, gemini, tmp_path, scribe_retry_window_s=1.5, scribe_retry_first_delay_s=0.4
    )
    srv = await start_server(settings)
    try:
        event = await _share(slack, srv, clip)
        await wait_for(
            lambda: any(t.startswith(":warning:") for t in _texts(slack, event)), timeout=30
        )
        await settle(srv, timeout=20)
        interactions = len(gemini.interaction_requests)
    finally:
        await srv.runner.cleanup()
    replies = slack.bot_replies(CHANNEL, event["ts"])
    # The status message became the warning: one reply in the thread.
    assert len(replies) == 1, _texts(slack, event)
    warning = replies[0]
    assert warning["text"].startswith(":warning:")
    buttons = [e for b in warning["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("job_retry", f"t:{CHANNEL}:{event['files'][0]['id']}")
    ]
    assert interactions >= 2  # it did try again on its own before giving up


async def test_slack_down_past_the_sdks_retries_is_retried_later_and_posts_once(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    clip = make_audio(tmp_path / "note.m4a", duration_s=3.0, codec="aac")
    # More 503s than slack_sdk's server-error handler retries (2): the run gives up.
    slack.fail("chat.postMessage", "service_unavailable", status=503, times=3)
    settings = make_settings(
        slack, gemini, tmp_path, scribe_retry_window_s=60, scribe_retry_first_delay_s=1.0
    )
    srv = await start_server(settings)
    try:
        event = await _share(slack, srv, clip)
        await wait_for(lambda: _has_transcript(slack, event), timeout=30)
        await settle(srv, timeout=20)
        gemini_calls = len(gemini.interaction_requests)
    finally:
        await srv.runner.cleanup()
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1 and not replies[0]["text"].startswith(":warning:")
    assert gemini_calls == 1  # the second run took the transcript from the cache
    refused = [c for c in slack.calls_to("chat.postMessage") if c.status == 503]
    assert len(refused) == 3


async def test_a_question_waits_for_gemini_and_leaves_only_its_answer(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    clip = make_audio(tmp_path / "note.m4a", duration_s=3.0, codec="aac")
    settings = make_settings(
        slack, gemini, tmp_path, scribe_retry_window_s=60, scribe_retry_first_delay_s=2.0
    )
    srv = await start_server(settings)
    try:
        event = await _share(slack, srv, clip)
        await wait_for(lambda: _has_transcript(slack, event), timeout=30)
        await settle(srv)
        gemini.fail_always(503)
        question = slack.post_user_message(
            CHANNEL, text="<@U0BOT> what was decided?", thread_ts=event["ts"]
        )
        await slack.send_event(srv.events_url, slack.app_mention_event(question))
        await wait_for(lambda: any("try again" in t for t in _texts(slack, event)), timeout=20)
        gemini.fail_always(None)
        await wait_for(
            lambda: any("Q:*" in str(r["blocks"]) for r in slack.bot_replies(CHANNEL, event["ts"])),
            timeout=30,
        )
        await settle(srv, timeout=20)
    finally:
        await srv.runner.cleanup()
    texts = _texts(slack, event)
    assert not any("try again" in t for t in texts), texts  # the waiting message is gone
    assert len(texts) == 2 and not any(t.startswith(":warning:") for t in texts), texts
