"""Every failure path of a job ends in one outcome people see, and a transcript is whole.

Faults are injected at the emulators' answers (a held or refused `chat.postMessage`,
a `files.info` slower than the client's timeout), never in our own code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.render import ReplyInfo, plan_delivery
from bot.transcript.model import Transcript
from tests.asking import link, notices, transcripts
from tests.conftest import Server, make_settings, settle, start_server, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_wire import SlackApiFailure

CHANNEL = "C0GENERAL"


def three_part_answer() -> dict[str, Any]:
    """A Gemini answer whose reply takes exactly three thread messages."""
    for n in range(40, 400, 10):
        answer = {
            "summary": "A planning call.",
            "segments": [
                {
                    "speaker": f"Speaker {i % 2 + 1}",
                    "timestamp": f"00:{i * 11 // n:02d}",
                    "content": f"Line {i:03d}: " + "we keep talking about the plan " * 6,
                    "language": "en",
                    "emotion": "neutral",
                }
                for i in range(n)
            ],
        }
        transcript = Transcript.model_validate(answer)
        parts = plan_delivery(transcript, ReplyInfo(file_name="memo.m4a", duration_s=60)).messages
        if len(parts) == 3:
            return answer
    raise AssertionError("no segment count gives three parts")


def part_markers(message: dict[str, Any]) -> list[str]:
    return [str(b.get("block_id") or "") for b in message.get("blocks") or []][:1]


@pytest.fixture
async def srv(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> AsyncIterator[Server]:
    server = await start_server(make_settings(slack, gemini, tmp_path))
    try:
        yield server
    finally:
        await server.runner.cleanup()


async def share(slack: SlackEmulator, srv: Server, clip: Path, **file_kw: Any) -> dict[str, Any]:
    file = slack.add_file(clip.read_bytes(), **file_kw)
    event = slack.post_user_message(CHANNEL, files=[file])
    sent = await slack.send_event(srv.events_url, event)
    assert sent.status == 200
    return event


async def mention(slack: SlackEmulator, srv: Server, thread_ts: str) -> None:
    message = slack.post_user_message(CHANNEL, text=f"<@{slack.bot_user_id}>", thread_ts=thread_ts)
    sent = await slack.send_event(srv.events_url, slack.app_mention_event(message))
    assert sent.status == 200


async def test_a_timeout_that_is_not_the_job_budget_ends_in_one_warning(
    slack: SlackEmulator, srv: Server, voice_clip: Path
) -> None:
    srv.runtime.slack.timeout = 1  # the client's own limit, as in production (30 s)

    async def stall(n: int) -> None:
        await asyncio.sleep(3)  # longer than the client waits

    slack.before("files.info", stall)
    file = slack.add_file(voice_clip.read_bytes())
    message = slack.post_user_message(CHANNEL, files=[file])
    # The shortcut makes the job look the file up with files.info (no file object in hand).
    await slack.send_message_shortcut(srv.events_url, message=message)
    await wait_for(lambda: slack.bot_replies(CHANNEL, message["ts"]), timeout=20)
    await settle(srv, timeout=20)
    replies = slack.bot_replies(
        CHANNEL, message["ts"]
    )  # after settling: a late second reply counts
    assert len(replies) == 1
    assert replies[0]["text"].startswith(":warning:")
    assert "timed out" in replies[0]["text"]
    assert (CHANNEL, message["ts"]) not in slack.reactions or "hourglass_flowing_sand" not in (
        slack.reactions[(CHANNEL, message["ts"])]
    )
    metrics = srv.runtime.metrics.render().decode()
    assert 'scribe_job_failures_total{reason="timeout"} 1.0' in metrics


async def test_a_refused_later_part_is_reported_and_a_mention_posts_only_what_is_missing(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, voice_clip: Path
) -> None:
    gemini.script(three_part_answer())

    async def refuse_second(n: int) -> None:
        if n == 2:
            raise SlackApiFailure("fatal_error")

    slack.before("chat.postMessage", refuse_second)
    event = await share(slack, srv, voice_clip, name="memo.m4a")
    await wait_for(lambda: len(slack.bot_replies(CHANNEL, event["ts"])) == 2, timeout=20)
    await settle(srv)
    first, warning = slack.bot_replies(CHANNEL, event["ts"])
    assert "Continued in part 2 of 3" in json.dumps(first["blocks"])
    assert warning["text"].startswith(":warning:")
    assert "part 1 of 3" in warning["text"]  # says what is there and what is missing
    assert "mention me" in warning["text"].lower()

    await mention(slack, srv, event["ts"])
    await wait_for(lambda: len(slack.bot_replies(CHANNEL, event["ts"])) == 4, timeout=20)
    await settle(srv)
    replies = slack.bot_replies(CHANNEL, event["ts"])
    texts = [r["text"] for r in replies]
    assert len(replies) == 4, texts
    assert sum("part 2 of 3" in t for t in texts) == 1
    assert sum("part 3 of 3" in t for t in texts) == 1
    assert len(gemini.interaction_requests) == 1  # the transcript came from the store
    assert notices(slack) == []  # the mention was not told "already has a transcript"


async def test_two_mentions_after_a_failure_give_one_transcript(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, voice_clip: Path
) -> None:
    gemini.fail_always(503, path_contains="interactions")
    event = await share(slack, srv, voice_clip)
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=20)
    await settle(srv)
    gemini.fail_always(None)
    gemini.latency_s = 0.5  # the first retry is still running when the second mention comes
    before = len(gemini.interaction_requests)

    await mention(slack, srv, event["ts"])
    await mention(slack, srv, event["ts"])
    await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]), timeout=20)
    await settle(srv)
    assert len(transcripts(slack, CHANNEL, event["ts"])) == 1
    assert len(gemini.interaction_requests) == before + 1
    assert any("being transcribed" in n for n in notices(slack)), notices(slack)


async def test_damaged_audio_that_slack_labels_audio_gets_a_warning_when_automatic(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, tmp_path: Path
) -> None:
    broken = tmp_path / "voicemail.mp3"
    broken.write_bytes(bytes(range(256)) * 64)  # no header any decoder knows
    event = await share(
        slack, srv, broken, name="voicemail.mp3", mimetype="audio/mpeg", filetype="mp3"
    )
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=20)
    await settle(srv)
    replies = slack.bot_replies(CHANNEL, event["ts"])  # after settling: a late second reply counts
    assert len(replies) == 1
    assert replies[0]["text"].startswith(":warning:")
    assert gemini.interaction_requests == []


async def test_a_pdf_shared_automatically_stays_silent(
    slack: SlackEmulator, srv: Server, tmp_path: Path
) -> None:
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 2000)
    event = await share(
        slack, srv, pdf, name="notes.pdf", mimetype="application/pdf", filetype="pdf"
    )
    await settle(srv)
    assert slack.bot_replies(CHANNEL, event["ts"]) == []


async def test_link_to_a_message_the_asker_cannot_see_is_refused_without_detail(
    slack: SlackEmulator, srv: Server, voice_clip: Path
) -> None:
    """`/transcribe <link>` to a private channel the asker is not in: nothing revealed."""
    secret = "C0SECRET"
    slack.add_channel(secret, name="layoffs-2027", is_private=True, members={"U0BOSS"})
    file = slack.add_file(voice_clip.read_bytes(), name="layoffs <!channel>.m4a", user="U0BOSS")
    message = slack.post_user_message(secret, files=[file], user="U0BOSS")
    sent = await slack.send_slash_command(
        srv.events_url, text=link(slack, secret, message["ts"]), user="U0ALICE"
    )
    assert sent.status == 200
    await wait_for(lambda: notices(slack), timeout=20)
    await settle(srv)
    assert slack.bot_replies(secret) == []
    told = " ".join(notices(slack))
    for leak in ("layoffs", secret, "C0SECRET", "private"):
        assert leak not in told, told
    assert "can't" in told or "cannot" in told


async def test_thinking_tokens_are_counted_and_priced_as_output(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    settings = make_settings(
        slack,
        gemini,
        tmp_path,
        scribe_price_input_per_mtok=1.0,
        scribe_price_output_per_mtok=10.0,
    )
    server = await start_server(settings)
    try:
        event = await share(slack, server, voice_clip)
        await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]), timeout=20)
        await settle(server)
        metrics = server.runtime.metrics
        sample = {
            s.labels.get("direction", ""): s.value
            for m in metrics.gemini_tokens.collect()
            for s in m.samples
            if s.name.endswith("_total")
        }
        cost = next(
            s.value
            for m in metrics.gemini_cost.collect()
            for s in m.samples
            if s.name.endswith("_total")
        )
    finally:
        await server.runner.cleanup()
    usage = [i["usage"] for i in gemini.interactions.values()]
    thought = sum(u.get("total_thought_tokens", 0) for u in usage)
    assert thought > 0  # the emulator thinks, as Gemini 3 does
    assert sample["thought"] == thought
    expected = (sample["input"] * 1.0 + (sample["output"] + thought) * 10.0) / 1e6
    assert cost == pytest.approx(expected)


async def test_file_link_notices_escape_the_file_name(
    slack: SlackEmulator, srv: Server, tmp_path: Path
) -> None:
    pdf = tmp_path / "plan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 500)
    file = slack.add_file(
        pdf.read_bytes(), name="<!channel> plan.pdf", mimetype="application/pdf", filetype="pdf"
    )
    slack.post_user_message(CHANNEL, files=[file])
    sent = await slack.send_slash_command(srv.events_url, text=file["permalink"])
    assert sent.status == 200
    await wait_for(lambda: notices(slack), timeout=20)
    await settle(srv)
    told = notices(slack)[0]
    assert "&lt;!channel&gt; plan.pdf" in told
    assert "<!channel>" not in told


async def test_a_reply_asked_for_by_someone_else_names_who_asked(
    slack: SlackEmulator, srv: Server, voice_clip: Path
) -> None:
    slack.add_user("U0BOB", name="bob", real_name="Bob Ross", display_name="bob")
    file = slack.add_file(voice_clip.read_bytes(), user="U0ALICE")
    message = slack.post_user_message(CHANNEL, files=[file], user="U0ALICE")
    await slack.send_message_shortcut(srv.events_url, message=message, user="U0BOB")
    await wait_for(lambda: transcripts(slack, CHANNEL, message["ts"]), timeout=20)
    await settle(srv)
    assert "requested by <@U0BOB>" in json.dumps(transcripts(slack, CHANNEL, message["ts"])[0])


async def test_a_link_from_someone_slack_hides_from_the_bot_is_refused_not_crashed(
    slack: SlackEmulator, srv: Server, voice_clip: Path
) -> None:
    """users.info answers `user_not_visible` (or `user_not_found`) for some askers."""
    slack.add_channel("C0OTHER", name="other")
    file = slack.add_file(voice_clip.read_bytes())
    message = slack.post_user_message("C0OTHER", files=[file])
    sent = await slack.send_slash_command(
        srv.events_url, text=link(slack, "C0OTHER", message["ts"]), user="U0GHOST"
    )
    assert sent.status == 200
    await wait_for(lambda: notices(slack), timeout=20)
    await settle(srv)
    assert slack.bot_replies("C0OTHER") == []
    assert "not a member" in notices(slack)[0]
    assert 'reason="internal"' not in srv.runtime.metrics.render().decode()
