"""Rename speakers, end to end: the modal from the transcript's button, its submission, and
every message of the transcript (and of a translation) edited in place with the new names.

People click and submit what the bot really posted and opened: the Slack emulator builds
the signed block_actions and view_submission payloads from the stored message and view.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.slack.render import ReplyInfo, plan_delivery
from bot.transcript.model import Transcript
from tests.asking import share
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.test_pipeline_truth import three_part_answer
from tests.test_speakers_people import answer
from tests.test_transcript_controls import (
    ACK_LIMIT_S,
    notices,
    transcript_parts,
    translations,
    uploads,
    use,
)

HOSTILE = "Ann & <!channel>"


def shown(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


async def _three_part_transcript(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, clip: Path
) -> str:
    gemini.script(three_part_answer())
    _, event = share(slack, clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: len(transcript_parts(slack, event["ts"])) == 3, timeout=30)
    await settle(server)
    return str(event["ts"])


async def _open_modal(slack: SlackEmulator, server: Server, first: dict[str, Any]) -> dict:
    opened = len(slack.views_opened)
    await use(slack, server, first, "transcript_rename_speakers")
    await wait_for(lambda: len(slack.views_opened) > opened)
    return slack.views_opened[-1]


async def test_renaming_edits_every_part_and_later_exports_use_the_names(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    slack.add_user("U0BOB", name="bob", real_name="Bob Stone", display_name="bob")
    thread = await _three_part_transcript(slack, gemini, server, voice_clip)
    parts = transcript_parts(slack, thread)
    first = parts[0]
    await use(slack, server, first, "transcript_translate", "de")
    await wait_for(lambda: translations(slack, thread, "German"), timeout=20)
    await settle(server)
    assert len(translations(slack, thread, "German")) > 1  # a long translation has parts too

    view = await _open_modal(slack, server, first)
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [(b["block_id"], b["label"]["text"]) for b in inputs] == [
        ("person-0", "Speaker 1"),
        ("name-0", "…or a name for Speaker 1"),
        ("person-1", "Speaker 2"),
        ("name-1", "…or a name for Speaker 2"),
    ]
    assert json.loads(view["private_metadata"])["t"] == thread

    # A name too long: the modal stays open with the error under that input, nothing changes.
    sent = await slack.send_view_submission(
        server.events_url, view["id"], {"name-1": {"name": "x" * 81}}
    )
    assert sent.status == 200 and sent.elapsed_s < ACK_LIMIT_S
    answer = sent.json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["name-1"] and "80 characters" in answer["errors"]["name-1"]
    assert slack.views[view["id"]]["open"] and not slack.view_anomalies
    await settle(server)
    assert not slack.updates

    sent = await slack.send_view_submission(
        server.events_url,
        view["id"],
        {"person-0": {"person": "U0BOB"}, "name-1": {"name": HOSTILE}},
    )
    assert sent.status == 200 and not sent.body.strip()  # closes the modal
    assert not slack.views[view["id"]]["open"]
    await wait_for(lambda: len(slack.updates) >= 6, timeout=20)
    await settle(server)

    after = transcript_parts(slack, thread)
    assert [p["ts"] for p in after] == [p["ts"] for p in parts]  # the same messages, edited
    for part in after:
        assert part.get("edited"), part["ts"]
        text = shown(part)
        assert "*bob* `" in text and "*Ann &amp; &lt;!channel&gt;* `" in text
        assert "Speaker 1" not in text and "Speaker 2" not in text
        assert "<@" not in text and "<!" not in text  # plain text: nobody is pinged
    for german in translations(slack, thread, "German"):  # its three parts
        assert german.get("edited") and "*bob* `" in shown(german)
        assert "Speaker 1" not in shown(german) and "<@" not in shown(german)
    assert "transcript_rename_speakers" in shown(after[0])  # the controls stay

    # Exports made after the rename carry the names (the raw text, in a file).
    await use(slack, server, after[0], "transcript_download", "txt")
    await wait_for(lambda: uploads(slack, thread, ".txt"), timeout=20)
    await settle(server)
    (txt,) = uploads(slack, thread, ".txt")
    content = txt["content"].decode()
    assert "] bob: Line 000" in content and f"] {HOSTILE}: Line 001" in content
    assert "Speaker 1" not in content

    # Opened again, the modal shows the names now given.
    again = await _open_modal(slack, server, after[0])
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in again["blocks"]
        if b["type"] == "input"
    }
    assert (initial["name-0"], initial["name-1"]) == ("bob", HOSTILE)


async def test_a_modal_opened_after_the_trigger_expired_says_to_click_again(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: transcript_parts(slack, event["ts"]), timeout=30)
    await settle(server)
    (first,) = transcript_parts(slack, event["ts"])
    slack.trigger_ttl_s = 0.0  # Slack took its 3 s, and more, before the click arrived
    await use(slack, server, first, "transcript_rename_speakers")
    await wait_for(lambda: notices(slack))
    assert slack.views_opened == []
    (notice,) = notices(slack)
    assert "in time" in notice and "click *Rename speakers* again" in notice
    assert [c for c in slack.calls_to("views.open") if c.response.get("ok") is False]


async def test_a_recording_without_speech_has_no_one_to_rename(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    gemini.script({"summary": "", "segments": []})
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: transcript_parts(slack, event["ts"]), timeout=30)
    await settle(server)
    (first,) = transcript_parts(slack, event["ts"])
    await use(slack, server, first, "transcript_rename_speakers")
    await wait_for(lambda: notices(slack))
    assert slack.views_opened == []
    assert notices(slack) == ["No one speaks in this recording, so there is no speaker to rename."]


def _answer(n: int) -> dict[str, Any]:
    return {
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


def _parts_named(answer: dict[str, Any], one: str, two: str) -> int:
    t = Transcript.model_validate(answer)
    named = t.model_copy(
        update={
            "segments": [
                s.model_copy(update={"speaker": one if s.speaker == "Speaker 1" else two})
                for s in t.segments
            ]
        }
    )
    return len(plan_delivery(named, ReplyInfo(file_name="memo.m4a", duration_s=12)).messages)


def shrinking_answer() -> dict[str, Any]:
    """A transcript in three parts that short names fit into two, and long ones into three."""
    for n in range(40, 400, 2):
        answer = _answer(n)
        if (
            _parts_named(answer, "Speaker 1", "Speaker 2") == 3
            and _parts_named(answer, "A", "B") == 2
            and _parts_named(answer, "x" * 80, "y" * 80) == 3
        ):
            return answer
    raise AssertionError("no segment count changes the number of parts")


async def test_a_rename_that_changes_the_number_of_parts_deletes_or_posts_them(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    gemini.script(shrinking_answer())
    _, event = share(slack, voice_clip)
    thread = event["ts"]
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: len(transcript_parts(slack, thread)) == 3, timeout=30)
    await settle(server)
    before = [p["ts"] for p in transcript_parts(slack, thread)]

    view = await _open_modal(slack, server, transcript_parts(slack, thread)[0])
    await slack.send_view_submission(
        server.events_url, view["id"], {"name-0": {"name": "A"}, "name-1": {"name": "B"}}
    )
    await wait_for(lambda: len(transcript_parts(slack, thread)) == 2, timeout=20)
    await settle(server)
    assert [p["ts"] for p in transcript_parts(slack, thread)] == before[:2]
    assert [d["ts"] for d in slack.deletes] == [before[2]]  # the surplus part is gone

    view = await _open_modal(slack, server, transcript_parts(slack, thread)[0])
    await slack.send_view_submission(
        server.events_url, view["id"], {"name-0": {"name": "x" * 80}, "name-1": {"name": "y" * 80}}
    )
    await wait_for(lambda: len(transcript_parts(slack, thread)) == 3, timeout=20)
    await settle(server)
    after = transcript_parts(slack, thread)
    assert [p["ts"] for p in after[:2]] == before[:2] and after[2]["ts"] not in before
    assert all("*" + "x" * 80 + "* `" in shown(p) for p in after)


async def test_a_name_the_transcription_gave_is_what_the_modal_shows_and_a_rename_keeps(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    """A lone speaker is shown as the person who shared the clip (`alice`): the modal
    offers that name, and renaming nothing else does not turn it back into "Speaker 1"."""
    gemini.script(answer("Speaker 1", "Speaker 1"))
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: transcript_parts(slack, event["ts"]), timeout=30)
    await settle(server)
    first = transcript_parts(slack, event["ts"])[0]
    assert "alice" in shown(first)
    view = await _open_modal(slack, server, first)
    names = [
        b["element"].get("initial_value")
        for b in view["blocks"]
        if b["type"] == "input" and b["element"]["type"] == "plain_text_input"
    ]
    assert names == ["alice"]
    sent = await slack.send_view_submission(server.events_url, view["id"], {})
    assert sent.status == 200
    await settle(server)
    first = transcript_parts(slack, event["ts"])[0]
    assert "alice" in shown(first) and "Speaker 1" not in shown(first)
