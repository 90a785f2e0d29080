"""The Gemini emulator, proven with the real google-genai SDK over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import struct
import time
import typing
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import jsonschema
import pytest
from google import genai
from google.genai import _interactions as interactions_errors
from google.genai import errors, types

from bot.gemini.client import SpeakerRoster
from bot.gemini.prompts import translation_prompt
from bot.transcript.model import Transcript, parse_timestamp, response_schema
from tests.emulators.gemini import (
    GENERATION_CONFIG_FIELDS,
    THINKING_LEVELS,
    Blocked,
    Continuation,
    Fault,
    GeminiEmulator,
    Truncated,
)

# google-genai subclasses aiohttp.ClientSession, which aiohttp 3.14 warns about; not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession from ClientSession:DeprecationWarning"
)

MODEL = "gemini-3.5-flash"
JSON_FORMAT = {
    "type": "text",
    "mime_type": "application/json",
    "schema": response_schema(Transcript),
}


def wav_bytes(seconds: float, rate: int = 16_000, *, silent: bool = False) -> bytes:
    """A mono 16-bit WAV: a 440 Hz tone, or silence (fast for long files)."""
    n = int(seconds * rate)
    if silent:
        frames = b"\x00\x00" * n
    else:
        period = [int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(rate)]
        one_second = struct.pack(f"<{rate}h", *period)
        frames = (one_second * math.ceil(seconds))[: n * 2]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def flac_bytes(seconds: float, rate: int = 16_000) -> bytes:
    """A real FLAC file encoded with PyAV."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        step = rate // 10
        for start in range(0, int(seconds * rate), step):
            frame = av.AudioFrame(format="s16", layout="mono", samples=step)
            frame.planes[0].update(struct.pack(f"<{step}h", *([1000, -1000] * (step // 2))))
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def make_client(emu: GeminiEmulator, *, api_key: str | None = None, attempts: int | None = None):
    retry = types.HttpRetryOptions(attempts=attempts) if attempts is not None else None
    return genai.Client(
        api_key=api_key or emu.api_key,
        http_options=types.HttpOptions(
            base_url=emu.base_url, api_version="v1beta", retry_options=retry
        ),
    )


@pytest.fixture
async def emu() -> AsyncIterator[GeminiEmulator]:
    emulator = GeminiEmulator()
    await emulator.start()
    yield emulator
    await emulator.close()


@pytest.fixture
async def client(emu: GeminiEmulator) -> AsyncIterator[genai.Client]:
    c = make_client(emu)
    yield c
    await c.aio.aclose()
    c.close()


@pytest.fixture
async def client_no_retry(emu: GeminiEmulator) -> AsyncIterator[genai.Client]:
    c = make_client(emu, attempts=1)
    yield c
    await c.aio.aclose()
    c.close()


async def upload(client: genai.Client, tmp_path: Path, data: bytes, name: str = "talk.wav"):
    path = tmp_path / name
    path.write_bytes(data)
    return await client.aio.files.upload(
        file=path, config=types.UploadFileConfig(mime_type="audio/wav", display_name="talk")
    )


def inline(data: bytes, mime_type: str = "audio/wav") -> dict[str, Any]:
    return {"type": "audio", "data": base64.b64encode(data).decode(), "mime_type": mime_type}


async def test_upload_transcribe_delete_roundtrip(
    emu: GeminiEmulator, client: genai.Client, tmp_path: Path
) -> None:
    audio = wav_bytes(25)
    uploaded = await upload(client, tmp_path, audio)
    assert uploaded.name in emu.files
    assert uploaded.uri == f"{emu.base_url}/v1beta/{uploaded.name}"
    assert uploaded.size_bytes == len(audio)
    assert emu.files[uploaded.name].data == audio

    fetched = await client.aio.files.get(name=uploaded.name)
    assert fetched.state == types.FileState.ACTIVE
    assert fetched.mime_type == "audio/wav"

    interaction = await client.aio.interactions.create(
        model=MODEL,
        input=[
            {"type": "audio", "uri": uploaded.uri, "mime_type": uploaded.mime_type},
            {"type": "text", "text": "Transcribe with speaker labels."},
        ],
        response_format=JSON_FORMAT,
    )
    assert interaction.status == "completed"
    transcript = Transcript.model_validate_json(interaction.output_text)
    starts = [parse_timestamp(s.timestamp) for s in transcript.segments]
    assert starts == [0, 10, 20]
    assert all(t < 25 for t in starts)
    assert [s.speaker for s in transcript.segments] == ["Speaker 1", "Speaker 2", "Speaker 1"]
    assert transcript.languages == ["en"]
    assert interaction.usage is not None
    assert interaction.usage.total_input_tokens >= 25 * 32

    sent = emu.interaction_requests[0]
    assert sent["model"] == MODEL
    assert sent["response_format"]["schema"]["title"] == "Transcript"
    assert sent["input"][0]["type"] == "user_input"

    await client.aio.files.delete(name=uploaded.name)
    assert emu.deleted_files == [uploaded.name]
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.files.get(name=uploaded.name)
    assert caught.value.code == 403
    assert caught.value.status == "PERMISSION_DENIED"
    assert "may not exist" in (caught.value.message or "")


async def test_large_upload_arrives_in_contiguous_chunks(
    emu: GeminiEmulator, client: genai.Client, tmp_path: Path
) -> None:
    audio = wav_bytes(300, silent=True)  # ~9.6 MB: two 8 MiB chunks
    uploaded = await upload(client, tmp_path, audio)
    chunks = [r for r in emu.requests if "upload_id" in r.query]
    assert [int(r.headers["x-goog-upload-offset"]) for r in chunks] == [0, 8 * 1024 * 1024]
    assert chunks[-1].headers["x-goog-upload-command"] == "upload, finalize"
    assert all("x-goog-api-key" not in r.headers for r in chunks)
    assert emu.files[uploaded.name].data == audio

    interaction = await client.aio.interactions.create(
        model=MODEL,
        input=[{"type": "audio", "uri": uploaded.uri, "mime_type": "audio/wav"}],
        response_format=JSON_FORMAT,
    )
    transcript = Transcript.model_validate_json(interaction.output_text)
    assert len(transcript.segments) == 30
    assert transcript.segments[-1].timestamp == "04:50"


async def test_chunk_with_a_gap_is_refused(emu: GeminiEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        start = await http.post(
            f"{emu.base_url}/upload/v1beta/files",
            json={"file": {"display_name": "x", "mime_type": "audio/wav", "size_bytes": 20}},
            headers={
                "x-goog-api-key": emu.api_key,
                "X-Goog-Upload-Protocol": "resumable",
                "X-Goog-Upload-Command": "start",
            },
        )
        assert start.status == 200
        url = start.headers["X-Goog-Upload-URL"]
        assert url.startswith(emu.base_url)
        first = await http.post(
            url,
            data=b"0" * 10,
            headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "0"},
        )
        assert first.headers["X-Goog-Upload-Status"] == "active"
        gap = await http.post(
            url,
            data=b"1" * 10,
            headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "15"},
        )
        assert gap.status == 400
        assert gap.headers["X-Goog-Upload-Status"] == "final"
        assert (await gap.json())["error"]["status"] == "INVALID_ARGUMENT"
    assert emu.files == {}


async def test_inline_flac_uses_the_speaker_roster(
    emu: GeminiEmulator, client: genai.Client
) -> None:
    interaction = await client.aio.interactions.create(
        model=MODEL,
        input=[
            inline(flac_bytes(21), "audio/flac"),
            {"type": "text", "text": "Transcribe.\nSpeakers: Alice, Bob, Carol\n"},
        ],
        response_format=JSON_FORMAT,
    )
    transcript = Transcript.model_validate_json(interaction.output_text)
    assert [s.speaker for s in transcript.segments] == ["Alice", "Bob", "Carol"]
    assert transcript.segments[-1].timestamp == "00:20"


async def test_rate_limit_surfaces_as_rate_limit_error(
    emu: GeminiEmulator, client_no_retry: genai.Client
) -> None:
    emu.script(Fault(status=429, headers={"Retry-After": "1"}))
    with pytest.raises(interactions_errors.RateLimitError) as caught:
        await client_no_retry.aio.interactions.create(model=MODEL, input="hi")
    assert caught.value.status_code == 429
    assert caught.value.body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert len(emu.interaction_requests) == 1


async def test_default_retries_survive_two_503s(emu: GeminiEmulator, client: genai.Client) -> None:
    quick = {"retry-after-ms": "10"}
    emu.script(Fault(503, headers=quick), Fault(503, headers=quick), "finally")
    interaction = await client.aio.interactions.create(model=MODEL, input="hi")
    assert interaction.output_text == "finally"
    assert len(emu.interaction_requests) == 3


async def test_wrong_api_key_is_rejected(emu: GeminiEmulator) -> None:
    bad = make_client(emu, api_key="wrong", attempts=1)
    try:
        with pytest.raises(interactions_errors.BadRequestError) as caught:
            await bad.aio.interactions.create(model=MODEL, input="hi")
        error = caught.value.body["error"]
        assert error["details"][0]["reason"] == "API_KEY_INVALID"
        with pytest.raises(errors.ClientError) as caught_models:
            await bad.aio.models.get(model=MODEL)
        assert caught_models.value.code == 400
        assert caught_models.value.status == "INVALID_ARGUMENT"
    finally:
        await bad.aio.aclose()
        bad.close()


async def test_unsupported_mime_type(emu: GeminiEmulator, client_no_retry: genai.Client) -> None:
    with pytest.raises(interactions_errors.BadRequestError) as caught:
        await client_no_retry.aio.interactions.create(
            model=MODEL, input=[inline(wav_bytes(2), "audio/x-wav")]
        )
    assert caught.value.body["error"]["message"] == "Unsupported MIME type: audio/x-wav"


async def test_undecodable_audio_is_invalid_argument(
    emu: GeminiEmulator, client_no_retry: genai.Client
) -> None:
    with pytest.raises(interactions_errors.BadRequestError) as caught:
        await client_no_retry.aio.interactions.create(
            model=MODEL, input=[inline(b"RIFF not really a wav file" * 10)]
        )
    assert caught.value.body["error"]["message"] == "Request contains an invalid argument."


async def test_processing_file_is_refused_until_active(
    emu: GeminiEmulator, client_no_retry: genai.Client, tmp_path: Path
) -> None:
    emu.files_stay_processing_for = 2
    uploaded = await upload(client_no_retry, tmp_path, wav_bytes(3))
    assert uploaded.state == types.FileState.PROCESSING
    block = {"type": "audio", "uri": uploaded.uri, "mime_type": "audio/wav"}
    with pytest.raises(interactions_errors.BadRequestError) as caught:
        await client_no_retry.aio.interactions.create(model=MODEL, input=[block])
    assert caught.value.body["error"]["status"] == "FAILED_PRECONDITION"
    states = [(await client_no_retry.aio.files.get(name=uploaded.name)).state for _ in range(3)]
    assert states == [
        types.FileState.PROCESSING,
        types.FileState.PROCESSING,
        types.FileState.ACTIVE,
    ]
    interaction = await client_no_retry.aio.interactions.create(model=MODEL, input=[block])
    assert Transcript.model_validate_json(interaction.output_text).segments


async def test_models_get_and_not_found(emu: GeminiEmulator, client: genai.Client) -> None:
    model = await client.aio.models.get(model=MODEL)
    assert model.name == f"models/{MODEL}"
    assert model.output_token_limit == 65_536
    assert "generateContent" in (model.supported_actions or [])
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.get(model="gemini-0-nope")
    assert caught.value.code == 404
    assert caught.value.status == "NOT_FOUND"
    assert "models/gemini-0-nope is not found for API version v1beta" in (
        caught.value.message or ""
    )
    with pytest.raises(interactions_errors.NotFoundError):
        await client.aio.interactions.create(model="gemini-0-nope", input="hi")
    listed = [m.name async for m in await client.aio.models.list()]
    assert f"models/{MODEL}" in listed


async def test_script_with_a_callable_sees_the_request(
    emu: GeminiEmulator, client: genai.Client
) -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return {"summary": f"model was {request['model']}", "segments": []}

    emu.script(answer)
    interaction = await client.aio.interactions.create(model=MODEL, input="what is said?")
    assert seen[0]["input"] == "what is said?"
    assert Transcript.model_validate_json(interaction.output_text).summary == f"model was {MODEL}"


async def test_truncated_and_blocked_answers(emu: GeminiEmulator, client: genai.Client) -> None:
    full = {"summary": "s" * 40, "segments": []}
    emu.script(Truncated(full), Blocked())
    truncated = await client.aio.interactions.create(model=MODEL, input="x")
    assert truncated.status == "incomplete"
    assert truncated.output_text and not truncated.output_text.endswith("}")
    with pytest.raises(ValueError):
        Transcript.model_validate_json(truncated.output_text)
    blocked = await client.aio.interactions.create(model=MODEL, input="x")
    assert blocked.status == "failed"
    assert blocked.output_text == ""
    assert blocked.errors and blocked.errors[0].code == "SAFETY"


async def test_text_only_question_gets_plain_answer(
    emu: GeminiEmulator, client: genai.Client
) -> None:
    interaction = await client.aio.interactions.create(model=MODEL, input="Who spoke first?")
    assert interaction.output_text.startswith("Answer:")
    assert "Who spoke first?" in interaction.output_text
    fetched = await client.aio.interactions.get(interaction.id)
    assert fetched.steps[0].type == "user_input"
    assert fetched.output_text == interaction.output_text


async def test_text_only_translation_request_is_answered_from_the_transcript_it_carries(
    emu: GeminiEmulator, client: genai.Client
) -> None:
    given = {
        "summary": "A short call.",
        "key_points": ["Ship it."],
        "segments": [
            {"speaker": "Ann", "timestamp": "00:00", "language": "en", "content": "Hello."},
            {"speaker": "Bo", "timestamp": "00:04", "language": "de-AT", "content": "Servus."},
        ],
    }
    prompt = translation_prompt(json.dumps(given), "de", part=(1, 1))
    interaction = await client.aio.interactions.create(
        model=MODEL, input=[{"type": "text", "text": prompt}], response_format=JSON_FORMAT
    )
    answer = json.loads(interaction.output_text)
    jsonschema.validate(answer, JSON_FORMAT["schema"])  # the requested shape, as ever
    assert [
        (s["speaker"], s["timestamp"], s["content"], s["translation"]) for s in answer["segments"]
    ] == [("Ann", "00:00", "", "[de] Hello."), ("Bo", "00:04", "", None)]
    assert answer["summary"] == "[de] A short call."
    assert answer["key_points"] == ["[de] Ship it."]

    # Any other text-only request still gets the schema's shape with nothing made up.
    other = await client.aio.interactions.create(
        model=MODEL, input="Summarise nothing.", response_format=JSON_FORMAT
    )
    assert json.loads(other.output_text)["segments"] == []


async def test_oversize_inline_body_is_refused(
    emu: GeminiEmulator, client_no_retry: genai.Client
) -> None:
    emu.inline_limit_bytes = 100_000
    with pytest.raises(interactions_errors.BadRequestError) as caught:
        await client_no_retry.aio.interactions.create(model=MODEL, input=[inline(wav_bytes(5))])
    assert caught.value.body["error"]["message"] == (
        "Request payload size exceeds the limit: 100000 bytes."
    )


async def test_fail_next_and_fail_always_match_paths(
    emu: GeminiEmulator, client: genai.Client, tmp_path: Path
) -> None:
    uploaded = await upload(client, tmp_path, wav_bytes(1))
    emu.fail_next(1, 503, path_contains="/files/")
    with pytest.raises(errors.ServerError) as caught:
        await client.aio.files.get(name=uploaded.name)
    assert caught.value.status == "UNAVAILABLE"
    assert (await client.aio.files.get(name=uploaded.name)).name == uploaded.name
    emu.fail_always(500, path_contains="/models/")
    for _ in range(2):
        with pytest.raises(errors.ServerError):
            await client.aio.models.get(model=MODEL)
    assert [f.name async for f in await client.aio.files.list()] == [uploaded.name]
    emu.fail_always(None)
    assert (await client.aio.models.get(model=MODEL)).name == f"models/{MODEL}"


async def test_latency_and_concurrency_are_tracked(
    emu: GeminiEmulator, client: genai.Client
) -> None:
    emu.latency_s = 0.3
    began = time.monotonic()
    await asyncio.gather(
        *(client.aio.interactions.create(model=MODEL, input=f"q{i}") for i in range(3))
    )
    elapsed = time.monotonic() - began
    assert 0.3 <= elapsed < 0.85  # in parallel, not 3 x 0.3 s
    assert emu.max_concurrent_interactions == 3
    assert emu.in_flight_interactions == 0

    emu.latency_s = 0.0
    emu.tokens_per_s = 100.0
    emu.script("x" * 160)  # 40 output tokens -> 0.4 s (no thinking: that takes time too)
    began = time.monotonic()
    await client.aio.interactions.create(
        model=MODEL, input="slow", generation_config={"thinking_level": "minimal"}
    )
    assert time.monotonic() - began >= 0.4


async def test_hang_times_out_on_the_client(emu: GeminiEmulator) -> None:
    emu.hang_s = 30
    c = make_client(emu, attempts=1)
    try:
        with pytest.raises(interactions_errors.APITimeoutError):
            await c.aio.interactions.create(model=MODEL, input="hi", timeout=0.3)
    finally:
        await c.aio.aclose()
        c.close()
    began = time.monotonic()
    await emu.close()
    assert time.monotonic() - began < 2


async def test_generate_content_minimal(emu: GeminiEmulator, client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=Transcript
    )
    contents = [types.Part.from_bytes(data=wav_bytes(12), mime_type="audio/wav"), "Transcribe"]
    response = await client.aio.models.generate_content(
        model=MODEL, contents=contents, config=config
    )
    assert isinstance(response.parsed, Transcript)
    assert [s.timestamp for s in response.parsed.segments] == ["00:00", "00:10"]
    assert response.usage_metadata is not None
    assert response.usage_metadata.prompt_token_count >= 12 * 32

    emu.script(Truncated({"summary": "cut", "segments": []}))
    cut = await client.aio.models.generate_content(model=MODEL, contents=contents, config=config)
    assert cut.parsed is None
    assert cut.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS


async def test_missing_key_and_any_api_version(emu: GeminiEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        missing = await http.get(f"{emu.base_url}/v1/models")
        assert missing.status == 403
        assert (await missing.json())["error"]["status"] == "PERMISSION_DENIED"
        for version in ("v1", "v1alpha"):
            found = await http.get(
                f"{emu.base_url}/{version}/models/gemini-2.5-flash",
                headers={"x-goog-api-key": emu.api_key},
            )
            assert found.status == 200
            assert (await found.json())["inputTokenLimit"] == 1_048_576


async def test_unknown_or_deleted_file_uri_is_permission_denied(
    emu: GeminiEmulator, client_no_retry: genai.Client, tmp_path: Path
) -> None:
    uploaded = await upload(client_no_retry, tmp_path, wav_bytes(2))
    await client_no_retry.aio.files.delete(name=uploaded.name)
    for uri in (uploaded.uri, f"{emu.base_url}/v1beta/files/nosuchfile"):
        block = {"type": "audio", "uri": uri, "mime_type": "audio/wav"}
        with pytest.raises(interactions_errors.PermissionDeniedError) as caught:
            await client_no_retry.aio.interactions.create(model=MODEL, input=[block])
        assert "may not exist" in caught.value.body["error"]["message"]


async def test_failed_processing_state(
    emu: GeminiEmulator, client_no_retry: genai.Client, tmp_path: Path
) -> None:
    emu.files_stay_processing_for = 1
    emu.files_end_state = "FAILED"
    uploaded = await upload(client_no_retry, tmp_path, wav_bytes(2))
    states = [(await client_no_retry.aio.files.get(name=uploaded.name)).state for _ in range(2)]
    assert states == [types.FileState.PROCESSING, types.FileState.FAILED]
    block = {"type": "audio", "uri": uploaded.uri, "mime_type": "audio/wav"}
    with pytest.raises(interactions_errors.BadRequestError):
        await client_no_retry.aio.interactions.create(model=MODEL, input=[block])


async def test_stream_generate_content_and_blocked(
    emu: GeminiEmulator, client: genai.Client
) -> None:
    contents = [types.Part.from_bytes(data=flac_bytes(15), mime_type="audio/flac"), "Go"]
    pieces = [
        chunk.text or ""
        async for chunk in await client.aio.models.generate_content_stream(
            model=MODEL, contents=contents
        )
    ]
    assert len(pieces) > 1
    transcript = Transcript.model_validate_json("".join(pieces))
    assert [s.timestamp for s in transcript.segments] == ["00:00", "00:10"]

    emu.script(Blocked())
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=Transcript
    )
    blocked = await client.aio.models.generate_content(
        model=MODEL, contents=contents, config=config
    )
    assert blocked.parsed is None
    assert blocked.prompt_feedback is not None
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert len(emu.generate_requests) == 2


# --- request strictness: response_format, system_instruction, generation_config ------------


async def _post_interaction(emu: GeminiEmulator, body: dict[str, Any]) -> tuple[int, Any]:
    """A raw POST, for bodies the SDK would refuse to build."""
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{emu.base_url}/v1beta/interactions",
            json=body,
            headers={"x-goog-api-key": emu.api_key},
        )
        return response.status, await response.json()


def roster_format() -> dict[str, Any]:
    return {
        "type": "text",
        "mime_type": "application/json",
        "schema": response_schema(SpeakerRoster),
    }


async def test_json_answer_has_the_shape_of_the_requested_schema(
    emu: GeminiEmulator, client: genai.Client
) -> None:
    audio = inline(flac_bytes(21), "audio/flac")
    roster = await client.aio.interactions.create(
        model=MODEL,
        input=[audio, {"type": "text", "text": "Who speaks?"}],
        response_format=roster_format(),
    )
    answer = json.loads(roster.output_text)
    assert answer == {"speakers": ["Speaker 1", "Speaker 2"]}  # a roster, not a transcript
    jsonschema.validate(answer, roster_format()["schema"])

    transcript = await client.aio.interactions.create(
        model=MODEL, input=[audio], response_format=JSON_FORMAT
    )
    full = json.loads(transcript.output_text)
    jsonschema.validate(full, JSON_FORMAT["schema"])
    assert [s["timestamp"] for s in full["segments"]] == ["00:00", "00:10", "00:20"]

    odd = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "count": {"type": "integer", "minimum": 3},
            "mood": {"type": "string", "enum": ["calm", "tense"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["title", "count", "mood", "tags", "note"],
    }
    other = await client.aio.interactions.create(
        model=MODEL,
        input=[audio],
        response_format={"type": "text", "mime_type": "application/json", "schema": odd},
    )
    jsonschema.validate(json.loads(other.output_text), odd)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("pattern", "^[0-9]+$"),
        ("oneOf", [{"type": "string"}]),
        ("allOf", [{"type": "string"}]),
        ("not", {"type": "integer"}),
        ("const", "x"),
        ("default", "x"),
        ("examples", ["x"]),
        ("propertyOrdering", ["a"]),
    ],
)
async def test_unsupported_schema_keyword_is_invalid_argument(
    emu: GeminiEmulator, client_no_retry: genai.Client, keyword: str, value: Any
) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string", keyword: value}},
        "required": ["a"],
    }
    with pytest.raises(interactions_errors.BadRequestError) as caught:
        await client_no_retry.aio.interactions.create(
            model=MODEL,
            input="hi",
            response_format={"type": "text", "mime_type": "application/json", "schema": schema},
        )
    error = caught.value.body["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert f'"{keyword}"' in error["message"]
    violation = error["details"][0]
    assert violation["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert violation["fieldViolations"][0]["field"] == "response_format.schema.properties.a"


async def test_keywords_gemini_accepts_but_ignores_pass(
    emu: GeminiEmulator, client_no_retry: genai.Client
) -> None:
    # The SDK's TextResponseFormat docstring: accepted, not enforced.
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string", "minLength": 2, "maxLength": 9}},
        "required": ["a"],
        "minProperties": 1,
    }
    interaction = await client_no_retry.aio.interactions.create(
        model=MODEL,
        input="hi",
        response_format={"type": "text", "mime_type": "application/json", "schema": schema},
    )
    assert set(json.loads(interaction.output_text)) == {"a"}


async def test_bare_schema_as_response_format_is_refused(emu: GeminiEmulator) -> None:
    status, body = await _post_interaction(
        emu, {"model": MODEL, "input": "hi", "response_format": {"type": "object"}}
    )
    assert status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT"


async def test_system_instruction_is_read_and_must_be_a_string(emu: GeminiEmulator) -> None:
    status, body = await _post_interaction(
        emu, {"model": MODEL, "input": "hi", "system_instruction": ["not", "a", "string"]}
    )
    assert status == 400
    assert body["error"]["message"].startswith("Invalid value at 'system_instruction'")
    status, body = await _post_interaction(
        emu, {"model": MODEL, "input": "hi", "system_instruction": "Be brief."}
    )
    assert status == 200
    assert emu.interaction_requests[-1]["system_instruction"] == "Be brief."
    assert "Be brief." in body["steps"][0]["content"][0]["text"]  # the default echoes prompts


async def test_unknown_generation_config_field_is_invalid_argument(
    emu: GeminiEmulator, client_no_retry: genai.Client
) -> None:
    with pytest.raises(interactions_errors.BadRequestError) as caught:
        await client_no_retry.aio.interactions.create(
            model=MODEL,
            input="hi",
            generation_config={"max_output_tokens": 10, "response_mime_type": "text/plain"},  # type: ignore[typeddict-unknown-key]
        )
    error = caught.value.body["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == (
        'Invalid JSON payload received. Unknown name "response_mime_type" at '
        "'generation_config': Cannot find field."
    )
    with pytest.raises(interactions_errors.BadRequestError):
        await client_no_retry.aio.interactions.create(
            model=MODEL, input="hi", generation_config={"thinking_level": "maximal"}
        )
    accepted = await client_no_retry.aio.interactions.create(
        model=MODEL,
        input="hi",
        generation_config={"max_output_tokens": 10, "thinking_level": "low", "seed": 1},
    )
    assert accepted.status == "completed"


def test_generation_config_fields_match_the_sdk() -> None:
    from google.genai._gaos.types.interactions.generationconfig import GenerationConfig
    from google.genai._gaos.types.interactions.thinkinglevel import ThinkingLevel

    assert frozenset(GenerationConfig.model_fields) == GENERATION_CONFIG_FIELDS
    known_levels = typing.get_args(typing.get_args(ThinkingLevel)[0])  # Literal[...] | str
    assert known_levels == THINKING_LEVELS


async def test_thought_tokens_follow_the_thinking_level(
    emu: GeminiEmulator, client: genai.Client
) -> None:
    thoughts: dict[str | None, int] = {}
    for level in (None, "minimal", "low", "medium", "high", "xhigh"):
        emu.script("x" * 400)  # 100 output tokens each time
        config = {"thinking_level": level} if level else {}
        interaction = await client.aio.interactions.create(
            model=MODEL, input="think", generation_config=config
        )
        usage = interaction.usage
        assert usage is not None and usage.total_output_tokens == 100
        thoughts[level] = usage.total_thought_tokens or 0
        assert usage.total_tokens == (
            usage.total_input_tokens + usage.total_output_tokens + thoughts[level]
        )
    assert thoughts["minimal"] == 0
    assert 0 < thoughts["low"] < thoughts["medium"] < thoughts["high"] < thoughts["xhigh"]
    assert thoughts[None] == thoughts["high"]  # Gemini 3's default level

    emu.tokens_per_s = 5000.0
    emu.script("x" * 40)  # 10 output tokens, but thinking at "high" takes most of the time
    began = time.monotonic()
    await client.aio.interactions.create(
        model=MODEL, input="slow thinker", generation_config={"thinking_level": "high"}
    )
    assert time.monotonic() - began >= (10 + thoughts["high"]) / 5000.0  # >= 0.41 s


async def test_store_false_keeps_nothing_to_get(emu: GeminiEmulator, client: genai.Client) -> None:
    kept = await client.aio.interactions.create(model=MODEL, input="keep me")
    assert (await client.aio.interactions.get(kept.id)).id == kept.id
    gone = await client.aio.interactions.create(model=MODEL, input="forget me", store=False)
    assert emu.interaction_requests[-1]["store"] is False
    assert emu.stored_interactions == {kept.id}
    with pytest.raises(interactions_errors.NotFoundError):
        await client.aio.interactions.get(gone.id)


# --- SDK edge cases the emulator can produce ---------------------------------------------


async def test_continuation_is_followed_by_the_sdk(
    emu: GeminiEmulator, client_no_retry: genai.Client
) -> None:
    emu.script(Continuation("first half, "), "second half")
    merged = await client_no_retry.aio.interactions.create(model=MODEL, input="go", store=False)
    assert merged.status == "completed"
    assert merged.output_text == "first half, second half"
    first, second = emu.interaction_requests
    assert "continuation_token" not in first
    assert second["continuation_token"] == "ct-1" and second["input"] == "go"

    emu.script(Continuation("half"), Fault(400))
    with pytest.raises(errors.ContinuationInterruptedError) as caught:
        await client_no_retry.aio.interactions.create(model=MODEL, input="go", store=False)
    assert not isinstance(caught.value, errors.APIError)
    assert caught.value.continuation_token == "ct-2"


async def test_upload_start_without_url_makes_the_sdk_raise_key_error(
    emu: GeminiEmulator, client_no_retry: genai.Client, tmp_path: Path
) -> None:
    emu.omit_upload_url = True
    with pytest.raises(KeyError):
        await upload(client_no_retry, tmp_path, wav_bytes(1))
    assert emu.files == {}


async def test_slow_finalize_creates_the_file_before_answering(
    emu: GeminiEmulator, client: genai.Client, tmp_path: Path
) -> None:
    emu.upload_finalize_delay_s = 0.4
    task = asyncio.create_task(upload(client, tmp_path, wav_bytes(1)))
    while not emu.files:
        await asyncio.sleep(0.02)
    assert not task.done()  # created server-side, not yet answered
    uploaded = await task
    assert list(emu.files) == [uploaded.name]
