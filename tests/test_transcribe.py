"""Chunk planning and the prompt lines chunks depend on (pure functions, tables)."""

from __future__ import annotations

import re

import pytest

from bot.errors import TranscriptionError
from bot.gemini.chunked import MAX_CHUNK_S, MIN_SPLIT_S, _first_error, plan_chunk_count
from bot.gemini.prompts import TranscribeOptions, transcription_prompt

MIN = 60.0


@pytest.mark.parametrize(
    ("duration_s", "concurrency", "at_least", "count"),
    [
        # Up front (> 20 min): a multiple of the concurrency, none longer than 12 min.
        (180 * MIN, 4, 1, 16),  # not 15 (a 4th round with 3 chunks): 16 of 11.25 min
        (60 * MIN, 4, 1, 8),
        (21 * MIN, 4, 1, 4),
        (48 * MIN, 4, 1, 4),
        (49 * MIN, 4, 1, 8),
        (240 * MIN, 4, 1, 20),
        (180 * MIN, 1, 1, 15),
        (180 * MIN, 8, 1, 16),
        (180 * MIN, 0, 1, 15),  # a nonsense limit counts as one slot
        # Fallback after a truncated answer: split at least in two, chunks ≥ 1 min.
        (5 * MIN, 4, 2, 4),
        (150.0, 4, 2, 2),
        (10 * MIN, 3, 2, 3),
        (119.0, 4, 2, 1),
    ],
)
def test_plan_chunk_count(duration_s: float, concurrency: int, at_least: int, count: int) -> None:
    assert plan_chunk_count(duration_s, concurrency, at_least=at_least) == count


@pytest.mark.parametrize("concurrency", [1, 2, 3, 4, 6, 8, 16])
def test_planned_chunks_fit_the_limits(concurrency: int) -> None:
    for minutes in range(21, 241):
        duration_s = minutes * MIN
        count = plan_chunk_count(duration_s, concurrency)
        assert duration_s / count <= MAX_CHUNK_S
        assert duration_s / count >= MIN_SPLIT_S
        assert count % concurrency == 0 or count == int(duration_s // MIN_SPLIT_S)
        # No fewer rounds are possible with chunks of at most MAX_CHUNK_S.
        rounds = -(-count // concurrency)
        assert rounds == -(-int(-(-duration_s // MAX_CHUNK_S)) // concurrency)


def test_first_error_prefers_what_the_user_can_act_on() -> None:
    refused = TranscriptionError("Gemini refused the request (HTTP 400).")
    crash = KeyError("x")
    group = BaseExceptionGroup("chunks", [crash, ExceptionGroup("inner", [refused])])
    assert _first_error(group) is refused
    assert _first_error(BaseExceptionGroup("chunks", [crash])) is crash


def test_chunk_prompt_carries_roster_part_and_translation_target() -> None:
    prompt = transcription_prompt(
        615.0,
        TranscribeOptions(language="de", translate_to="fr"),
        roster=["Ana", "Speaker 2"],
        part=(3, 16),
    )
    # The roster is one line the model (and the emulator) can read back exactly.
    assert re.findall(r"^Speakers: (.+)$", prompt, re.MULTILINE) == ["Ana, Speaker 2"]
    assert "'Speaker 3'" in prompt  # any other voice continues the numbering
    assert "part 3 of 16" in prompt and "start at 00:00 for this part" in prompt
    assert "The audio is 10:15 long" in prompt
    assert "translation into 'fr'" in prompt and "mostly in 'de'" in prompt


def test_single_request_prompt_has_no_roster_or_part() -> None:
    prompt = transcription_prompt(42.0, TranscribeOptions())
    assert "Speakers:" not in prompt and "part " not in prompt
    assert "translation into" not in prompt  # translation is off unless a target is set
