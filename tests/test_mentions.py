"""Mentions: transcribe the thread's recording, or answer a question from its transcript."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.asking import CHANNEL, answers, notices, running, share, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator


def mention(slack: SlackEmulator, text: str, thread_ts: str | None, **kw: Any) -> dict[str, Any]:
    message = slack.post_user_message(
        CHANNEL, text=f"<@{slack.bot_user_id}> {text}".strip(), thread_ts=thread_ts, **kw
    )
    return slack.app_mention_event(message)


def last_gemini_text(gemini: GeminiEmulator) -> str:
    return json.dumps(gemini.interaction_requests[-1])


async def test_mention_in_a_clips_thread_transcribes_it_with_auto_off(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, event = share(slack, voice_clip)
        await slack.send_event(server.events_url, event)
        sent = await slack.send_event(server.events_url, mention(slack, "", event["ts"]))
        assert sent.status == 200
        await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
        await settle(server)
        assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1


async def test_mention_carrying_the_clip_itself_transcribes_it_once(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        file = slack.add_file(voice_clip.read_bytes())
        message = slack.post_user_message(
            CHANNEL, text=f"<@{slack.bot_user_id}> please", files=[file]
        )
        await slack.send_event(server.events_url, slack.app_mention_event(message))
        await slack.send_event(server.events_url, message)  # the message event arrives too
        await wait_for(lambda: transcripts(slack, CHANNEL, message["ts"]))
        await settle(server)
        assert len(slack.bot_replies(CHANNEL, message["ts"])) == 1
        assert len(gemini.interaction_requests) == 1


async def test_question_in_a_transcribed_thread_is_answered_from_the_transcript(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
    await settle(server)
    transcript = json.loads(
        list(gemini.interactions.values())[-1]["steps"][-1]["content"][0]["text"]
    )

    sent = await slack.send_event(
        server.events_url, mention(slack, "who spoke first?", event["ts"])
    )
    assert sent.status == 200
    answer = (await wait_for(lambda: answers(slack, CHANNEL, event["ts"])))[0]
    request = last_gemini_text(gemini)
    for segment in transcript["segments"]:
        assert segment["content"] in request
    assert "who spoke first?" in request
    assert "cite the timestamps" in request
    assert "emulated" in json.dumps(answer["blocks"])
    assert answer["thread_ts"] == event["ts"]


async def test_question_before_any_transcript_is_answered_after_transcribing(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, event = share(slack, voice_clip)
        await slack.send_event(server.events_url, mention(slack, "what was decided?", event["ts"]))
        await wait_for(lambda: answers(slack, CHANNEL, event["ts"]))
        await settle(server)
        replies = slack.bot_replies(CHANNEL, event["ts"])
        assert len(replies) == 2 and replies[0] in transcripts(slack, CHANNEL, event["ts"])
        assert "what was decided?" in last_gemini_text(gemini)
        assert "Segment 1 of the recording." in last_gemini_text(gemini)


async def test_question_in_a_thread_without_media_gets_a_private_hint(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server
) -> None:
    root = slack.post_user_message(CHANNEL, text="lunch?")
    await slack.send_event(server.events_url, mention(slack, "what was said?", root["ts"]))
    await wait_for(lambda: slack.ephemerals)
    await settle(server)
    assert "no transcript in this thread" in notices(slack)[0]
    assert slack.ephemerals[0]["thread_ts"] == root["ts"]
    assert slack.bot_replies(CHANNEL) == []
    assert gemini.interaction_requests == []


async def test_mention_without_a_thread_or_media_gets_a_private_hint(
    slack: SlackEmulator, server: Server
) -> None:
    await slack.send_event(server.events_url, mention(slack, "", None))
    await wait_for(lambda: slack.ephemerals)
    assert "no audio or video without a transcript in this thread" in notices(slack)[0]


async def test_mentions_from_other_bots_are_ignored(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
    await settle(server)
    asked = mention(slack, "summarise", event["ts"])
    asked["bot_id"] = "B0OTHER"
    assert (await slack.send_event(server.events_url, asked)).status == 200
    await settle(server)
    assert answers(slack, CHANNEL, event["ts"]) == []
    assert len(gemini.interaction_requests) == 1
