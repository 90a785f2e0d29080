"""Translating a stored transcript: the Gemini client's text-only requests against the
emulator (real google-genai SDK over HTTP), and how answers are merged back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from bot.errors import TranscriptionError
from bot.gemini.client import GeminiTranscriber, build_client
from bot.gemini.config import Usage
from bot.gemini.translation import merge_translation
from bot.transcript.model import Segment, Transcript
from tests.emulators.gemini import GeminiEmulator
from tests.test_gemini_client import config_for

pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession from ClientSession:DeprecationWarning"
)


@pytest.fixture
async def transcriber(gemini: GeminiEmulator) -> AsyncIterator[GeminiTranscriber]:
    config = config_for(gemini)
    client = build_client(config)
    yield GeminiTranscriber(client, config, concurrency=asyncio.Semaphore(2))
    await client.aio.aclose()
    client.close()


def transcript(n: int) -> Transcript:
    return Transcript(
        summary="A call about the plan.",
        key_points=["The plan ships."],
        segments=[
            Segment(
                speaker=f"Speaker {i % 2 + 1}",
                timestamp=f"{i // 60:02d}:{i % 60:02d}",
                content=f"Line {i}.",
                language="de" if i == 1 else "en",
            )
            for i in range(n)
        ],
    )


async def test_a_long_transcript_is_translated_in_batches_and_merged_in_order(
    gemini: GeminiEmulator, transcriber: GeminiTranscriber
) -> None:
    original = transcript(320)
    usage = Usage()
    translated = await transcriber.translate(original, "de", usage)
    requests = gemini.interaction_requests
    assert len(requests) == 3  # 150 + 150 + 20 segments
    assert all(r["response_format"]["schema"]["title"] == "Transcript" for r in requests)
    assert all("audio" not in json.dumps(r["input"]) for r in requests)  # text only
    assert usage.requests == 3 and usage.input_tokens > 0
    # Speakers, times and words are the stored ones; translations come from Gemini.
    assert [s.model_copy(update={"translation": None}) for s in translated.segments] == [
        s.model_copy(update={"translation": None}) for s in original.segments
    ]
    assert translated.segments[0].translation == "[de] Line 0."
    assert translated.segments[319].translation == "[de] Line 319."
    assert translated.segments[1].translation is None  # already German
    assert translated.summary == "[de] A call about the plan."
    assert translated.key_points == ["[de] The plan ships."]


async def test_an_answer_that_drops_segments_is_refused(
    gemini: GeminiEmulator, transcriber: GeminiTranscriber
) -> None:
    gemini.script(
        {"summary": "x", "segments": [{"speaker": "A", "timestamp": "00:00", "content": ""}]}
    )
    with pytest.raises(TranscriptionError, match="had 1 segments where the transcript has 3"):
        await transcriber.translate(transcript(3), "fr")


def _answer(*segments: dict[str, object], summary: str = "") -> Transcript:
    return Transcript.model_validate({"summary": summary, "segments": list(segments)})


@pytest.mark.parametrize(
    ("got", "language", "expected"),
    [
        ({"content": "", "translation": "Bonjour."}, "en", "Bonjour."),
        # A model that put the translation into `content` still translated it.
        ({"content": "Bonjour.", "translation": None}, "en", "Bonjour."),
        # Content echoed, nothing translated: no translation shown.
        ({"content": "Hello.", "translation": None}, "en", None),
        # Already in the target language (by its primary subtag): none.
        ({"content": "", "translation": "Bonjour."}, "fr-CA", None),
    ],
)
def test_merge_takes_only_translations(
    got: dict[str, object], language: str, expected: str | None
) -> None:
    original = Transcript(
        summary="Hi.",
        segments=[Segment(speaker="Ann", timestamp="00:01", content="Hello.", language=language)],
    )
    answer = _answer({"speaker": "Someone else", "timestamp": "09:09", **got}, summary="Salut.")
    (seg,) = merge_translation(original, [answer], "fr").segments
    assert (seg.speaker, seg.timestamp, seg.content) == ("Ann", "00:01", "Hello.")
    assert seg.translation == expected
