"""Block Kit of the transcript's controls and of the Rename speakers modal (pure functions),
checked against the Slack emulator's own Block Kit rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack.rename_modal import picked, read_submission, rename_modal
from bot.slack.render import ReplyInfo, plan_delivery
from bot.transcript.model import Segment, Transcript, format_timestamp
from tests.emulators.slack_blocks import check_blocks
from tests.emulators.slack_views import check_modal
from tests.test_slack_render import assert_within_limits

INFO = ReplyInfo(file_name="call.m4a", duration_s=3600)


def actions(blocks: list[dict[str, Any]]) -> list[list[str]]:
    return [[e["action_id"] for e in b["elements"]] for b in blocks if b["type"] == "actions"]


def long_transcript(segments: int, *, words: int = 60, key_points: int = 0) -> Transcript:
    return Transcript(
        summary="A long call.",
        key_points=[f"Point {i} " + "detail " * 30 for i in range(key_points)],
        languages=["en"],
        segments=[
            Segment(
                speaker=f"Speaker {i % 3 + 1}",
                timestamp=format_timestamp(i * 5),
                content=f"Line {i}: " + "word " * words,
            )
            for i in range(segments)
        ],
    )


@pytest.mark.parametrize(
    ("segments", "key_points", "max_messages"),
    [(1, 0, 5), (40, 0, 5), (200, 0, 5), (200, 0, 50), (700, 80, 5), (3000, 0, 5)],
)
def test_only_the_first_message_has_the_controls_and_every_message_fits(
    segments: int, key_points: int, max_messages: int
) -> None:
    t = long_transcript(segments, key_points=key_points)
    delivery = plan_delivery(t, INFO, max_thread_messages=max_messages)
    assert actions(delivery.messages[0].blocks) == [
        [
            "transcript_download",
            "transcript_translate",
            "transcript_rename_speakers",
            "transcript_delete",
        ]
    ]
    assert all(actions(m.blocks) == [] for m in delivery.messages[1:])
    assert_within_limits(delivery)
    for message in delivery.messages:
        assert check_blocks(json.loads(json.dumps(message.blocks))) is None  # Slack takes it


def test_a_translation_has_no_controls() -> None:
    delivery = plan_delivery(long_transcript(3), INFO, controls=False)
    assert all(actions(m.blocks) == [] for m in delivery.messages)


@pytest.mark.parametrize(
    ("spoken", "offered_en", "offered_de"),
    [(["en"], False, True), (["en-US"], False, True), (["en", "de"], True, True), ([], True, True)],
)
def test_the_translate_menu_leaves_out_the_one_language_spoken(
    spoken: list[str], offered_en: bool, offered_de: bool
) -> None:
    t = long_transcript(1).model_copy(update={"languages": spoken})
    first = plan_delivery(t, INFO).messages[0].blocks
    (controls,) = [b for b in first if b["type"] == "actions"]
    codes = [o["value"] for o in controls["elements"][1]["options"]]
    assert ("en" in codes, "de" in codes) == (offered_en, offered_de)


# --------------------------------------------------------------------------- the modal


def test_the_modal_fits_slacks_limits_however_many_speakers() -> None:
    speakers = [(f"Speaker {i} " + "x" * 120, f"Name {i}") for i in range(60)]
    view = rename_modal("C1", "1.0", speakers)
    assert check_modal(view) == []
    labels = json.loads(view["private_metadata"])["l"]
    assert 0 < len(labels) <= 30 and labels == [s[0] for s in speakers[: len(labels)]]
    assert "Only the first" in json.dumps(view["blocks"][-1])


def _state(values: dict[str, tuple[str | None, str | None]]) -> dict[str, Any]:
    """view.state.values for (picked user, typed name) per speaker index."""
    state: dict[str, Any] = {}
    for i, (user, name) in values.items():
        state[f"person-{i}"] = {"person": {"type": "users_select", "selected_user": user}}
        state[f"name-{i}"] = {"name": {"type": "plain_text_input", "value": name}}
    return {"values": state}


def test_a_submission_reads_picked_people_typed_names_and_errors() -> None:
    view = rename_modal("C1", "1.0", [("Speaker 1", "Speaker 1"), ("Ann", "Ann"), ("Bo", "Bo")])
    submitted = {
        **view,
        "state": _state({"0": ("U0BOB", "typed too"), "1": (None, "  Ann  Lee "), "2": (None, "")}),
    }
    got = read_submission(submitted)
    assert (got.channel_id, got.thread_ts, got.errors) == ("C1", "1.0", {})
    # A picked person wins over typed text; an emptied name goes back to the label.
    assert got.names == {"Speaker 1": picked("U0BOB"), "Ann": "Ann Lee", "Bo": ""}
    too_long = read_submission({**view, "state": _state({"1": (None, "y" * 81)})})
    assert list(too_long.errors) == ["name-1"]
    assert "Ann" not in too_long.names


def test_a_long_translations_files_are_titled_apart_from_the_transcripts() -> None:
    # Replies.replace finds a reply's files in the thread by title: a rename of the
    # transcript must not take the translation's files for its own, nor the reverse.
    t = long_transcript(3000)
    transcript_files = plan_delivery(t, INFO).attachments
    info = ReplyInfo(file_name="call.m4a", duration_s=3600, title="German translation")
    translation = plan_delivery(t, info, controls=False)
    assert transcript_files and translation.attachments
    assert not {a.title for a in transcript_files} & {a.title for a in translation.attachments}
    assert translation.messages[0].text.startswith("German translation of call.m4a")
