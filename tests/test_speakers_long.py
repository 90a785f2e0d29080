"""One voice, one label across a long recording's chunks, also for voices that come in late.

The Gemini emulator answers from a `VoicedRecording` (who speaks when), labelling voices
the way a listening model can: by the descriptions it is given, else by guessing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Server, make_settings, start_server
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.gemini_voices import Voice, VoicedRecording
from tests.emulators.slack import SlackEmulator
from tests.test_long_recordings import (
    chunk_requests,
    delivered,
    long_clip,
    posted_text,
    request_text,
    share,
)


@pytest.fixture
async def srv(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> AsyncIterator[Server]:
    work = tmp_path / "work"
    work.mkdir()
    server = await start_server(make_settings(slack, gemini, tmp_path, scribe_tmp_dir=str(work)))
    try:
        yield server
    finally:
        await server.runner.cleanup()


VOICES = {
    "A": Voice("low, slow voice; chairs the meeting and hands over"),
    "B": Voice("bright, fast voice; reports the budget figures"),
    "C": Voice("hoarse voice with a Scottish accent; the auditor asking questions"),
    "D": Voice("soft voice, echoing phone line; a caller from the Lisbon office"),
}
CHUNK_S = 450.0  # 60 min on 4 request slots: 8 chunks of 7.5 min
#: Voice order per chunk: C first speaks in chunk 3, speaks first in chunk 4, and in
#: chunk 6 after D, a voice that would take C's "Speaker 3" there.
ORDER = {
    1: "ABAB",
    2: "BABA",
    3: "ACAC",
    4: "CBCB",
    5: "ABAB",
    6: "DCAC",
    7: "BCBC",
    8: "ABBA",
}


def recording() -> VoicedRecording:
    turns = [
        ((chunk - 1) * CHUNK_S + 40 + 90 * k, key, f"turn {k + 1} of part {chunk}")
        for chunk, keys in ORDER.items()
        for k, key in enumerate(keys)
    ]
    return VoicedRecording(duration_s=3600.0, voices=VOICES, turns=turns)


async def test_a_voice_that_first_speaks_in_chunk_3_keeps_one_label_of_its_own(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, tmp_path: Path
) -> None:
    gemini.voices = voiced = recording()
    event = await share(slack, srv, long_clip(tmp_path / "meeting.mp3", minutes=60))
    replies = await delivered(slack, srv, event)

    parts = chunk_requests(gemini)
    assert len(parts) >= 8  # chunks are cut at quiet points: the count is the planner's
    text = "\n".join(posted_text(m) for m in replies)
    turns = re.findall(r"\*([^*\n]+)\* `[\d:]+`\n\((\w)\) turn \d+ of part (\d+)", text)
    # Consecutive segments of one label are posted as one turn: count voices, not turns.
    assert {voice for _, voice, _ in turns} == set(VOICES)
    labels: dict[str, set[str]] = defaultdict(set)
    for label, voice, _part in turns:
        labels[voice].add(label)
    assert len(labels["C"]) == 1, dict(labels)
    (c_label,) = labels["C"]
    assert all(c_label not in labels[v] for v in "ABD"), dict(labels)
    # Every voice, not only C: one label each, none shared.
    assert all(len(found) == 1 for found in labels.values()), dict(labels)
    assert len(set().union(*labels.values())) == 4
    # The roster's descriptions reached every chunk.
    for index, prompt in parts.items():
        assert VOICES["A"].description in prompt and VOICES["B"].description in prompt, index
    assert voiced.answered.count("reconcile") == 1


async def test_no_late_voices_no_extra_request(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, tmp_path: Path
) -> None:
    voiced = recording()
    voiced.turns = [t for t in voiced.turns if t[1] in "AB"]
    gemini.voices = voiced
    event = await share(slack, srv, long_clip(tmp_path / "duo.mp3", minutes=30))
    await delivered(slack, srv, event)
    assert "reconcile" not in voiced.answered
    texts = [request_text(r) for r in gemini.interaction_requests]
    assert not any("New voices:" in t for t in texts)


def test_reconciliation_answers_map_newcomers_to_one_label_each() -> None:
    from bot.transcript.voices import RosterVoice, assign_labels, parse_groups

    roster = [RosterVoice("Ana", "low"), RosterVoice("Speaker 2", "bright")]
    new = [
        (3, RosterVoice("Speaker 3", "hoarse")),
        (4, RosterVoice("Speaker 3", "hoarse")),
        (6, RosterVoice("Speaker 3", "soft")),
        (6, RosterVoice("Speaker 4", "hoarse")),
        (7, RosterVoice("Speaker 3", "low")),
    ]
    groups = parse_groups("V1 V2 V4\nV3\n- V5 = Ana\nV9 V1\nnonsense", len(new), roster)
    assert groups == [([0, 1, 3], ""), ([2], ""), ([4], "Ana")]
    mapping = assign_labels(new, groups, roster)
    assert mapping == {
        (3, "Speaker 3"): "Speaker 3",
        (4, "Speaker 3"): "Speaker 3",
        (6, "Speaker 4"): "Speaker 3",
        (6, "Speaker 3"): "Speaker 4",
        (7, "Speaker 3"): "Ana",
    }


def test_an_unreadable_answer_keeps_voices_apart() -> None:
    from bot.transcript.voices import RosterVoice, assign_labels, parse_groups

    roster = [RosterVoice("Speaker 1"), RosterVoice("Speaker 2")]
    new = [(3, RosterVoice("Speaker 3")), (6, RosterVoice("Speaker 3")), (6, RosterVoice("Bob"))]
    mapping = assign_labels(new, parse_groups("I cannot tell.", len(new), roster), roster)
    # No two voices share a label (one voice may keep two: the answer said nothing).
    assert len(set(mapping.values())) == len(new)
    assert mapping[(6, "Bob")] == "Bob"
