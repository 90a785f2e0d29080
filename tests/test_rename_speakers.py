"""Rename speakers, end to end: the modal from the transcript's button, its submission, and
every message of the transcript (and of a translation) edited in place with the new names.

People click and submit what the bot really posted and opened: the Slack emulator builds
the signed block_actions and view_submission payloads from the stored message and view.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.asking import share
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.test_pipeline_truth import three_part_answer
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
