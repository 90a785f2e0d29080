"""Speakers as people: a name Gemini heard becomes the one hinted Slack person's display name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.asking import CHANNEL, running, share, transcripts
from tests.conftest import settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.test_long_recordings import posted_text


def answer(*speakers: str) -> dict[str, Any]:
    return {
        "summary": "A short talk.",
        "segments": [
            {"speaker": s, "timestamp": f"00:0{i}", "content": f"Line {i}.", "language": "en"}
            for i, s in enumerate(speakers)
        ],
    }


async def posted(slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, clip: Path) -> str:
    async with running(slack, gemini, tmp_path) as srv:
        _, event = share(slack, clip)
        assert (await slack.send_event(srv.events_url, event)).status == 200
        await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]), timeout=30)
        await settle(srv)
    return "\n".join(posted_text(m) for m in transcripts(slack, CHANNEL, event["ts"]))


async def test_bob_with_one_bob_in_the_channel_is_his_display_name(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_user("U0BOB", name="bob", real_name="Bob Marley", display_name="bobby <3")
    slack.add_channel(CHANNEL, name="general", members={"U0ALICE", "U0BOB"})
    gemini.script(answer("Bob", "Speaker 2", "Bob"))
    text = await posted(slack, gemini, tmp_path, voice_clip)
    assert "*bobby &lt;3*" in text  # the display name, escaped: plain text, never markup
    assert "*Bob*" not in text and "<@U0BOB>" not in text
    assert "*Speaker 2*" in text


async def test_bob_with_two_bobs_in_the_channel_is_not_guessed(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_user("U0BOB", name="bob", real_name="Bob Marley", display_name="bobby")
    slack.add_user("U0BOB2", name="bob2", real_name="Bob Dylan", display_name="zimmy")
    slack.add_channel(CHANNEL, name="general", members={"U0ALICE", "U0BOB", "U0BOB2"})
    gemini.script(answer("Bob", "Speaker 2", "Bob"))
    text = await posted(slack, gemini, tmp_path, voice_clip)
    assert "*Bob*" in text and "bobby" not in text and "zimmy" not in text


async def test_a_lone_voice_is_still_the_sharer(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_user("U0BOB", name="bob", real_name="Bob Marley", display_name="bobby")
    slack.add_channel(CHANNEL, name="general", members={"U0ALICE", "U0BOB"})
    gemini.script(answer("Bob", "Bob"))
    text = await posted(slack, gemini, tmp_path, voice_clip)
    assert "*alice*" in text and "bobby" not in text


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Bob", "bobby"),
        ("bob marley", "bobby"),
        ("BOBBY", "bobby"),
        ("Ana", None),  # two people answer to Ana: no guess
        ("Ana Lucía", "ana.l"),
        ("Speaker 1", None),
        ("Unknown", None),
        ("Marley", None),  # a surname alone is too weak
    ],
)
def test_person_for(label: str, expected: str | None) -> None:
    from bot.transcript.speakers import Person, person_for

    people = [
        Person("U1", "bobby", "Bob Marley"),
        Person("U2", "ana.l", "Ana Lucía"),
        Person("U3", "", "Ana Pérez"),
    ]
    found = person_for(label, people)
    assert (found.shown_name if found else None) == expected


async def test_a_name_spelled_as_the_hints_spell_it_becomes_that_person(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    from tests.emulators.gemini_voices import Voice, VoicedRecording

    slack.add_user("U0ANA", name="ana", real_name="Ana Lucía Pérez", display_name="ana.l")
    slack.add_channel(CHANNEL, name="general", members={"U0ALICE", "U0ANA"})
    # The emulator hears "Anna Lucia"; it writes the hints' spelling when they carry it.
    gemini.voices = VoicedRecording(
        duration_s=12.0,
        voices={
            "A": Voice("calm voice; asks", name="Ana Lucía Pérez", heard_as="Anna Lucia"),
            "B": Voice("loud voice; answers"),
        },
        turns=[(0.0, "A", "hello"), (4.0, "B", "hi"), (8.0, "A", "bye")],
    )
    text = await posted(slack, gemini, tmp_path, voice_clip)
    assert "*ana.l*" in text and "Anna Lucia" not in text


async def test_voice_descriptions_are_not_kept_with_the_transcript(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    from tests.emulators.gemini_voices import Voice, VoicedRecording

    gemini.voices = VoicedRecording(
        duration_s=12.0,
        voices={"A": Voice("husky voice; asks"), "B": Voice("loud voice; answers")},
        turns=[(0.0, "A", "hello"), (4.0, "B", "hi")],
    )
    async with running(slack, gemini, tmp_path) as srv:
        _, event = share(slack, voice_clip)
        assert (await slack.send_event(srv.events_url, event)).status == 200
        await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]), timeout=30)
        await settle(srv)
        linked = await srv.runtime.store.thread_transcript(CHANNEL, event["ts"])
    assert linked is not None and "husky" not in linked.transcript_json
