"""The controls on a transcript's first message, end to end: Download, Translate, Retry.

A clip is shared through a signed event; people then use the controls the bot really posted
(the Slack emulator builds each signed block_actions payload from the stored message), and
the live server answers with the real Bolt, slack_sdk and google-genai clients.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import srt
import webvtt

from tests.asking import CHANNEL, share
from tests.conftest import Server, make_settings, settle, start_server, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator

#: Slack's limit for answering an interaction.
ACK_LIMIT_S = 3.0
CONTROLS = ["transcript_download", "transcript_translate", "transcript_rename_speakers"]


# --------------------------------------------------------------------------- helpers


def header(message: dict[str, Any]) -> str:
    blocks = message.get("blocks") or []
    return str(blocks[0]["text"]["text"]) if blocks and blocks[0]["type"] == "header" else ""


def transcript_parts(slack: SlackEmulator, thread_ts: str) -> list[dict[str, Any]]:
    """The transcript's messages in the thread (its first one carries the controls)."""
    return [m for m in slack.bot_replies(CHANNEL, thread_ts) if header(m).startswith("Transcript")]


def translations(slack: SlackEmulator, thread_ts: str, language: str) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.bot_replies(CHANNEL, thread_ts)
        if header(m).startswith(f"{language} translation")
    ]  # its first message, and "… translation, part k of N" after


def uploads(slack: SlackEmulator, thread_ts: str, suffix: str) -> list[dict[str, Any]]:
    return [
        u for u in slack.uploads if u["thread_ts"] == thread_ts and u["filename"].endswith(suffix)
    ]


def notices(slack: SlackEmulator) -> list[str]:
    """What only the clicker saw: ephemeral answers through the response_url."""
    return [str(p["body"].get("text", "")) for p in slack.response_url_posts] + [
        str(e.get("text", "")) for e in slack.ephemerals
    ]


def action_ids(message: dict[str, Any]) -> list[str]:
    return [
        str(e.get("action_id"))
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


async def transcribed(slack: SlackEmulator, server: Server, clip: Path, **kw: Any) -> str:
    """Share `clip`, wait for its transcript; the thread's ts."""
    _, event = share(slack, clip, **kw)
    assert (await slack.send_event(server.events_url, event)).status == 200
    await wait_for(lambda: transcript_parts(slack, event["ts"]), timeout=30)
    await settle(server, timeout=30)
    return str(event["ts"])


async def use(
    slack: SlackEmulator,
    server: Server,
    message: dict[str, Any],
    action_id: str,
    value: str | None = None,
    *,
    user: str = "U0ALICE",
) -> None:
    """Click a button or choose `value` in a menu of `message`, as Slack sends it."""
    sent = await slack.send_block_action_from_message(
        server.events_url, message, action_id, selected_value=value, user=user
    )
    assert sent.status == 200, sent.body
    assert sent.elapsed_s < ACK_LIMIT_S


# --------------------------------------------------------------------------- the controls


async def test_the_first_message_carries_the_contract_controls(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    thread = await transcribed(slack, server, voice_clip)
    (first,) = transcript_parts(slack, thread)
    assert action_ids(first) == [*CONTROLS, "transcript_delete"]
    (controls,) = [b for b in first["blocks"] if b["type"] == "actions"]
    download, translate, rename, delete = controls["elements"]
    assert download["type"] == translate["type"] == "static_select"
    assert [o["value"] for o in download["options"]] == ["txt", "srt", "vtt", "json", "md"]
    # Language codes; the recording's own language (English, emulated) is not offered.
    codes = [o["value"] for o in translate["options"]]
    assert "de" in codes and "fr" in codes and "en" not in codes
    assert all(c.isalpha() and c.islower() and len(c) == 2 for c in codes)
    assert rename["type"] == delete["type"] == "button"


# --------------------------------------------------------------------------- download


async def test_download_puts_each_format_in_the_thread_and_points_at_it_after(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    thread = await transcribed(slack, server, voice_clip)
    (first,) = transcript_parts(slack, thread)
    for fmt in ("srt", "vtt", "txt", "json", "md"):
        await use(slack, server, first, "transcript_download", fmt)
    await wait_for(lambda: len([u for u in slack.uploads if u["thread_ts"] == thread]) == 5)
    await settle(server)

    (srt_file,) = uploads(slack, thread, ".srt")
    cues = list(srt.parse(srt_file["content"].decode()))  # a real SRT parser
    # The emulated recording: 12 s, a segment every 10 s, two voices.
    assert [c.content for c in cues] == [
        "Speaker 1: Segment 1 of the recording.",
        "Speaker 2: Segment 2 of the recording.",
    ]
    assert [c.start.total_seconds() for c in cues] == [0.0, 10.0]
    assert 11.5 < cues[-1].end.total_seconds() <= 12.5  # the last cue ends with the audio

    (vtt_file,) = uploads(slack, thread, ".vtt")
    captions = webvtt.from_string(vtt_file["content"].decode(), strict=True)
    assert [c.voice for c in captions] == ["Speaker 1", "Speaker 2"]
    assert [c.text for c in captions] == [
        "Segment 1 of the recording.",
        "Segment 2 of the recording.",
    ]
    assert captions[1].start == "00:00:10.000"

    (txt_file,) = uploads(slack, thread, ".txt")
    assert "[00:10] Speaker 2: Segment 2 of the recording." in txt_file["content"].decode()
    (json_file,) = uploads(slack, thread, ".json")
    data = json.loads(json_file["content"])
    assert [s["speaker"] for s in data["segments"]] == ["Speaker 1", "Speaker 2"]
    (md_file,) = uploads(slack, thread, ".md")
    assert "## Transcript" in md_file["content"].decode()
    assert srt_file["title"] != "Transcript of memo.m4a (SRT subtitles)"  # not an attachment's

    # The same format again: a pointer to the file already there, no second file.
    slack.response_url_posts.clear()
    await use(slack, server, first, "transcript_download", "srt")
    await wait_for(lambda: notices(slack))
    await settle(server)
    (notice,) = notices(slack)
    assert slack.files[srt_file["file_id"]]["file"]["permalink"] in notice
    assert len(uploads(slack, thread, ".srt")) == 1


async def test_a_control_of_a_transcript_that_is_gone_says_so(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    thread = await transcribed(slack, server, voice_clip)
    (first,) = transcript_parts(slack, thread)
    await server.runtime.store.forget_thread(CHANNEL, thread)
    await use(slack, server, first, "transcript_download", "txt")
    await use(slack, server, first, "transcript_translate", "de")
    await wait_for(lambda: len(notices(slack)) == 2)
    await settle(server)
    assert len(notices(slack)) == 2
    assert all(n.startswith("I no longer have this transcript") for n in notices(slack))
    assert not [u for u in slack.uploads if u["thread_ts"] == thread]


# --------------------------------------------------------------------------- translate


def _translation_requests(gemini: GeminiEmulator, code: str) -> list[dict[str, Any]]:
    return [r for r in gemini.interaction_requests if f"Target language: {code}" in json.dumps(r)]


async def test_translate_posts_the_translation_once_and_caches_it(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    file, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: transcript_parts(slack, event["ts"]), timeout=30)
    await settle(server)
    (first,) = transcript_parts(slack, event["ts"])

    await use(slack, server, first, "transcript_translate", "de")
    await wait_for(lambda: translations(slack, event["ts"], "German"), timeout=20)
    await settle(server)
    (german,) = translations(slack, event["ts"], "German")
    assert header(german) == "German translation · 00:12 · English · 2 speakers"
    text = json.dumps(german["blocks"])
    assert "*Speaker 1* `00:00`\\nSegment 1 of the recording.\\n_[de] Segment 1" in text
    assert "transcript_download" not in text  # the controls belong to the transcript
    (request,) = _translation_requests(gemini, "de")
    assert request["response_format"]["schema"]["title"] == "Transcript"
    assert request["generation_config"]["thinking_level"] == "low"
    assert "Translating into German" in notices(slack)[0]

    # The same language again: a pointer to it, nothing asked of Gemini, nothing posted.
    requests = len(gemini.interaction_requests)
    await use(slack, server, first, "transcript_translate", "de")
    await wait_for(lambda: len(notices(slack)) == 2)
    await settle(server)
    assert "already" in notices(slack)[1] and "/archives/" in notices(slack)[1]
    assert len(translations(slack, event["ts"], "German")) == 1

    # The same file shared in another channel: its German translation comes from the cache.
    slack.add_channel("C0OTHER", name="other")
    again = slack.post_user_message("C0OTHER", files=[file])
    await slack.send_event(server.events_url, again)
    await wait_for(
        lambda: [m for m in slack.bot_replies("C0OTHER", again["ts"]) if header(m)], timeout=30
    )
    await settle(server)
    (other_first,) = slack.bot_replies("C0OTHER", again["ts"])
    await use(slack, server, other_first, "transcript_translate", "de")
    await wait_for(
        lambda: [m for m in slack.bot_replies("C0OTHER", again["ts"]) if "German" in header(m)],
        timeout=20,
    )
    await settle(server)
    assert len(gemini.interaction_requests) == requests  # no transcription, no translation


# --------------------------------------------------------------------------- retry


async def test_retry_runs_a_failed_job_again_once(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    gemini.fail_always(500, path_contains="interactions")
    srv = await start_server(make_settings(slack, gemini, tmp_path))
    try:
        _, event = share(slack, voice_clip)
        await slack.send_event(srv.events_url, event)
        await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=30)
        await settle(srv)
        (warning,) = slack.bot_replies(CHANNEL, event["ts"])
        assert warning["text"].startswith(":warning:")
        failed_requests = len(gemini.interaction_requests)

        gemini.fail_always(None)  # Gemini is back
        await use(slack, srv, warning, "job_retry")
        slack.add_user("U0BOB", name="bob", real_name="Bob Stone", display_name="bob")
        await use(slack, srv, warning, "job_retry", user="U0BOB")  # a second click at once
        await wait_for(lambda: transcript_parts(slack, event["ts"]), timeout=30)
        await settle(srv)
        replies = slack.bot_replies(CHANNEL, event["ts"])
        assert header(replies[-1]).startswith("Transcript")  # the thread ends with it
        assert len(transcript_parts(slack, event["ts"])) == 1
        assert len(gemini.interaction_requests) == failed_requests + 1  # one run
        said = notices(slack)
        assert said[0] == "Trying again…"
        assert "already" in said[1]

        await use(slack, srv, warning, "job_retry")
        await wait_for(lambda: len(notices(slack)) == 3)
        assert "done already" in notices(slack)[2]
    finally:
        await srv.runner.cleanup()


async def test_a_translation_that_failed_runs_again_from_its_retry_button(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    thread = await transcribed(slack, server, voice_clip)
    (first,) = transcript_parts(slack, thread)
    gemini.fail_always(500, path_contains="interactions")
    await use(slack, server, first, "transcript_translate", "fr")
    await wait_for(
        lambda: [m for m in slack.bot_replies(CHANNEL, thread) if m["text"].startswith(":warning:")]
    )
    await settle(server)
    (warning,) = [
        m for m in slack.bot_replies(CHANNEL, thread) if m["text"].startswith(":warning:")
    ]
    assert not translations(slack, thread, "French")
    # The recording's own message keeps its check mark: the transcript is fine.
    assert slack.reactions.get((CHANNEL, thread)) == {"white_check_mark"}

    gemini.fail_always(None)
    await use(slack, server, warning, "job_retry")
    await wait_for(lambda: translations(slack, thread, "French"), timeout=20)
    await settle(server)
    assert len(translations(slack, thread, "French")) == 1
    assert notices(slack)[-1] == "Trying again…"


async def test_a_slow_response_url_does_not_delay_the_answer_to_the_click(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    thread = await transcribed(slack, server, voice_clip)
    (first,) = transcript_parts(slack, thread)
    slack.response_url_delay_s = 4.0  # longer than Slack waits for the click's answer
    sent = await slack.send_block_action_from_message(
        server.events_url, first, "transcript_translate", selected_value="de", channel=CHANNEL
    )
    assert sent.status == 200 and sent.elapsed_s < ACK_LIMIT_S
    await wait_for(lambda: notices(slack), timeout=10)  # the notice still arrives
    await wait_for(lambda: translations(slack, thread, "German"), timeout=20)
    await settle(server)
