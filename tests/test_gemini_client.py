"""The Gemini client against the emulator: what each request kind sends, and what it costs.

Every test drives `GeminiTranscriber` (the real google-genai SDK) over HTTP against
the emulator and reads back the request bodies the emulator recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.errors import GeminiUnavailableError
from bot.gemini import client as gemini_module
from bot.gemini.chunked import transcribe_recording
from bot.gemini.client import (
    THINKING_LEVELS,
    GeminiConfig,
    GeminiTranscriber,
    SpeakerRoster,
    Usage,
    build_client,
)
from bot.gemini.progress import Progress
from bot.gemini.prompts import TranscribeOptions, roster_prompt, transcription_prompt
from bot.media.prepare import prepare_audio
from bot.media.types import PreparedAudio
from bot.transcript.model import Segment, Transcript
from tests.conftest import wait_for
from tests.emulators.gemini import Continuation, Fault, GeminiEmulator
from tests.media_factory import make_audio
from tests.test_long_recordings import long_clip

# google-genai subclasses aiohttp.ClientSession, which aiohttp 3.14 warns about; not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession from ClientSession:DeprecationWarning"
)


def config_for(emu: GeminiEmulator, **overrides: Any) -> GeminiConfig:
    values: dict[str, Any] = {
        "api_key": emu.api_key,
        "model": "gemini-3.5-flash",
        "base_url": emu.base_url,
        "timeout_s": 20.0,
        "attempts": 1,
        "initial_delay_s": 0.01,
    }
    values.update(overrides)
    return GeminiConfig(**values)


@pytest.fixture
async def transcriber(gemini: GeminiEmulator) -> AsyncIterator[GeminiTranscriber]:
    config = config_for(gemini)
    client = build_client(config)
    yield GeminiTranscriber(client, config, concurrency=asyncio.Semaphore(4))
    await client.aio.aclose()
    client.close()


@pytest.fixture
def clip(tmp_path: Path) -> PreparedAudio:
    path = make_audio(tmp_path / "clip.mp3", duration_s=12.0, sample_rate=16_000)
    return PreparedAudio(
        path=path, mime_type="audio/mpeg", duration_s=12.0, size_bytes=path.stat().st_size
    )


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node` with a local `$ref` followed (the only kind pydantic writes)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    name = str(ref).removeprefix("#/$defs/")
    return dict(schema["$defs"][name])


# --------------------------------------------------------------------- schema fidelity


async def test_every_field_the_product_reads_is_required_in_the_schema_sent(
    gemini: GeminiEmulator, transcriber: GeminiTranscriber, clip: PreparedAudio
) -> None:
    # A constrained model may leave out any field the schema does not require.
    await transcriber.transcribe(clip, transcription_prompt(12.0, TranscribeOptions()))
    await transcriber.list_speakers(clip, roster_prompt())
    sent = [r["response_format"]["schema"] for r in gemini.interaction_requests]
    transcript, roster = sent
    assert set(transcript["required"]) == set(Transcript.model_fields)
    assert set(transcript["required"]) >= {"summary", "segments", "speakers", "languages"}
    segment = resolve(transcript, transcript["properties"]["segments"]["items"])
    assert set(segment["required"]) == {
        "speaker",
        "timestamp",
        "content",
        "language",
        "translation",
        "emotion",
    }
    assert roster["required"] == ["speakers"]


def test_parsing_stays_tolerant_of_fields_a_model_left_out() -> None:
    # Scripted and stored transcripts from before the schema required everything.
    parsed = Transcript.model_validate(
        {"summary": "s", "segments": [{"speaker": "A", "timestamp": "00:01", "content": "hi"}]}
    )
    assert parsed.segments[0].emotion == "neutral"
    assert parsed.segments[0].translation is None
    assert parsed.key_points == [] and parsed.speakers == []


def test_roster_prompt_asks_for_the_roster_schema_fields_only() -> None:
    prompt = roster_prompt()
    for name in SpeakerRoster.model_fields:
        assert f"`{name}`" in prompt
    assert "summary" not in prompt and "segments" not in prompt


@pytest.mark.parametrize(
    ("translate_to", "asked"),
    [(None, None), ("en", "en"), ("pt-BR", "pt-BR")],
)
def test_translation_is_asked_for_only_when_a_target_is_set(
    translate_to: str | None, asked: str | None
) -> None:
    prompt = transcription_prompt(30.0, TranscribeOptions(translate_to=translate_to))
    if asked is None:
        assert "translation into" not in prompt
        assert "leave `translation` null" in prompt
    else:
        assert f"translation into '{asked}'" in prompt


async def test_json_system_instruction_goes_only_with_json_requests(
    gemini: GeminiEmulator, transcriber: GeminiTranscriber, clip: PreparedAudio
) -> None:
    await transcriber.transcribe(clip, transcription_prompt(12.0, TranscribeOptions()))
    await transcriber.ask_text("Summarise: hello")
    structured, plain = gemini.interaction_requests
    assert "JSON" in structured["system_instruction"]
    assert "response_format" not in plain
    assert "JSON" not in str(plain.get("system_instruction") or "")
    usage = Usage()
    assert await transcriber.ask_text("Who spoke?", usage) and usage.requests == 1


# --------------------------------------------------------------------------- privacy


async def test_no_request_asks_gemini_to_store_the_interaction(
    gemini: GeminiEmulator, transcriber: GeminiTranscriber, clip: PreparedAudio
) -> None:
    # Interactions are stored server-side unless store=False (the SDK's default is True).
    await transcriber.transcribe(clip, transcription_prompt(12.0, TranscribeOptions()))
    await transcriber.list_speakers(clip, roster_prompt())
    await transcriber.ask_text("Summarise: hello")
    assert [r.get("store") for r in gemini.interaction_requests] == [False, False, False]
    assert len(gemini.interactions) == 3
    assert gemini.stored_interactions == set()  # nothing was kept for a later GET


# ------------------------------------------------------------------ Gemini 3 settings


async def test_no_temperature_and_a_thinking_level_on_every_request(
    gemini: GeminiEmulator, transcriber: GeminiTranscriber, clip: PreparedAudio
) -> None:
    # temperature/top_p are deprecated in the SDK's Interactions GenerationConfig, and
    # Google's Gemini 3 guidance is to keep the default: lower values can loop.
    await transcriber.transcribe(clip, transcription_prompt(12.0, TranscribeOptions()))
    await transcriber.list_speakers(clip, roster_prompt())
    await transcriber.ask_text("Who spoke?")
    for request in gemini.interaction_requests:
        config = request["generation_config"]
        assert "temperature" not in config and "top_p" not in config
        assert config["thinking_level"] in ("minimal", "low", "medium", "high")


async def test_each_request_kind_thinks_at_its_chosen_level(
    gemini: GeminiEmulator, transcriber: GeminiTranscriber, clip: PreparedAudio
) -> None:
    await transcriber.transcribe(clip, transcription_prompt(12.0, TranscribeOptions()))
    await transcriber.list_speakers(clip, roster_prompt())
    await transcriber.ask_text("Summarise: hello", kind="summary")
    await transcriber.ask_text("Who spoke?")  # questions are the default plain-text kind
    await transcriber.translate(
        Transcript(summary="Hi.", segments=[Segment(speaker="A", timestamp="00:00", content="Hi")]),
        "de",
    )
    sent = [r["generation_config"]["thinking_level"] for r in gemini.interaction_requests]
    assert sent == [
        THINKING_LEVELS["transcription"],
        THINKING_LEVELS["roster"],
        THINKING_LEVELS["summary"],
        THINKING_LEVELS["question"],
        THINKING_LEVELS["translation"],
    ]
    assert THINKING_LEVELS == {
        "transcription": "low",
        "roster": "medium",
        "summary": "low",
        "question": "medium",
        "translation": "low",
    }


async def test_thought_tokens_are_counted_and_billed_as_output(
    gemini: GeminiEmulator, transcriber: GeminiTranscriber, clip: PreparedAudio
) -> None:
    usage = Usage()
    await transcriber.transcribe(clip, transcription_prompt(12.0, TranscribeOptions()), usage)
    await transcriber.ask_text("Who spoke?", usage)
    reported = [answer["usage"] for answer in gemini.interactions.values()]
    assert usage.requests == len(reported) == 2
    assert usage.input_tokens == sum(u["total_input_tokens"] for u in reported)
    assert usage.output_tokens == sum(u["total_output_tokens"] for u in reported)
    assert usage.thought_tokens == sum(u["total_thought_tokens"] for u in reported) > 0
    assert usage.billable_output_tokens == usage.output_tokens + usage.thought_tokens


# --------------------------------------------------------------- SDK edge errors


@pytest.fixture
async def uploader(gemini: GeminiEmulator) -> AsyncIterator[GeminiTranscriber]:
    """A transcriber that sends every piece of audio through the Files API."""
    config = config_for(gemini, inline_limit_bytes=1)
    client = build_client(config)
    yield GeminiTranscriber(client, config, concurrency=asyncio.Semaphore(4))
    await client.aio.aclose()
    client.close()


async def test_interrupted_continuation_ends_in_a_message_to_retry(
    gemini: GeminiEmulator, transcriber: GeminiTranscriber, clip: PreparedAudio
) -> None:
    # The SDK continues a `requires_continuation` answer by itself; a failed hop raises
    # ContinuationInterruptedError, a plain Exception, not an APIError.
    gemini.script(Continuation({"summary": "half", "segments": []}), Fault(400))
    with pytest.raises(GeminiUnavailableError) as caught:
        await transcriber.transcribe(clip, transcription_prompt(12.0, TranscribeOptions()))
    assert "mention me" in str(caught.value)
    assert caught.value.transient
    assert [r.get("continuation_token") for r in gemini.interaction_requests] == [None, "ct-1"]


async def test_upload_answer_without_an_upload_url_ends_in_a_message_to_retry(
    gemini: GeminiEmulator, uploader: GeminiTranscriber, clip: PreparedAudio
) -> None:
    gemini.omit_upload_url = True  # the SDK raises KeyError, not ValueError
    with pytest.raises(GeminiUnavailableError) as caught:
        await uploader.transcribe(clip, transcription_prompt(12.0, TranscribeOptions()))
    assert "try again" in str(caught.value).lower()
    assert gemini.interaction_requests == []


async def test_upload_cancelled_mid_flight_is_deleted_once_created(
    gemini: GeminiEmulator, uploader: GeminiTranscriber, clip: PreparedAudio
) -> None:
    # The file exists server-side before the last chunk's answer arrives; a job cancelled
    # in that window never learns its name unless the upload is allowed to finish.
    gemini.upload_finalize_delay_s = 0.5
    task = asyncio.create_task(
        uploader.transcribe(clip, transcription_prompt(12.0, TranscribeOptions()))
    )
    names = await wait_for(lambda: list(gemini.files))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for(lambda: gemini.deleted_files == names, timeout=5)
    assert gemini.files == {}
    assert gemini.interaction_requests == []  # nothing was transcribed after the cancel


# ---------------------------------------------------------------------------- memory


async def test_at_most_the_concurrency_limit_of_payloads_is_held_at_once(
    gemini: GeminiEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each inline payload is the whole chunk, base64-encoded: holding one per chunk of a
    # 4-hour recording is hundreds of MB. The slot must come before the payload.
    live = peak = built = 0
    real_inline_audio = gemini_module.inline_audio

    @contextlib.asynccontextmanager
    async def counted(audio: PreparedAudio) -> AsyncIterator[dict[str, str]]:
        nonlocal live, peak, built
        async with real_inline_audio(audio) as block:
            live, built = live + 1, built + 1
            peak = max(peak, live)
            try:
                yield block
            finally:
                live -= 1

    monkeypatch.setattr(gemini_module, "inline_audio", counted)
    gemini.latency_s = 0.2  # requests overlap, as they do against Gemini
    slots = 2
    config = config_for(gemini)
    client = build_client(config)
    transcriber = GeminiTranscriber(client, config, concurrency=asyncio.Semaphore(slots))
    source = long_clip(tmp_path / "long.mp3", minutes=25)
    audio = prepare_audio(source, tmp_path / "prepared", max_minutes=240)
    events: list[Progress] = []
    try:
        _, chunks = await transcribe_recording(
            transcriber,
            audio,
            tmp_path,
            TranscribeOptions(),
            Usage(),
            concurrency=slots,
            on_progress=events.append,
        )
    finally:
        await client.aio.aclose()
        client.close()
    assert chunks >= 2 * slots  # more chunks than slots, all sent inline
    # Progress (the Slack status message, the CLI bar): every part, then combining.
    assert [(e.stage, e.done, e.total) for e in events] == [
        ("transcribing", i, chunks) for i in range(chunks + 1)
    ] + [("combining", chunks, chunks)]
    assert built == chunks + 1  # the roster pass, then one payload per chunk
    assert peak <= slots, f"{peak} payloads held at once with {slots} slots"
    assert gemini.max_concurrent_interactions == slots
