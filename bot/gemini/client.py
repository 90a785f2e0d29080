"""Gemini client: one request per piece of audio, through the Interactions API.

Audio up to the inline limit travels base64 in the request; larger audio goes
through the Files API and is deleted as soon as the answer is in (Gemini keeps
uploads 48 h otherwise). Retries of 408/429/5xx, with exponential backoff and
Retry-After, are the SDK's own (configured by `GeminiConfig`); this module adds
a total time budget, a concurrency limit, and turns every failure into an error
a Slack user can act on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from google import genai

# The Interactions client's own errors: no public module of google-genai 3.x exports them.
from google.genai import _interactions as gi
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import BaseModel, Field, ValidationError

from bot.errors import GeminiUnavailableError, TranscriptionError, TruncatedAnswerError
from bot.gemini.config import GeminiConfig, RequestKind, Usage
from bot.gemini.failures import error_from_status
from bot.gemini.prompts import SYSTEM_INSTRUCTION
from bot.gemini.translation import translate_in_batches
from bot.media.types import PreparedAudio
from bot.transcript.model import ANSWER_MODEL_CONFIG, Transcript, response_schema

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

#: Gemini 3.x flash models answer at most 65,536 output tokens.
MAX_OUTPUT_TOKENS = 65536

#: thinking_level per request kind. Gemini 3 bills thinking as output and it takes time
#: like output, so each kind thinks only as much as its task needs; the tokens and
#: latency of every choice are measured by bench/gemini_thinking.py.
THINKING_LEVELS: dict[RequestKind, str] = {
    # Listening and writing down is perception, not reasoning; thinking here would be
    # billed on our longest answers and slow every chunk.
    "transcription": "low",
    # One short answer that every chunk's speaker labels depend on: worth some thought.
    "roster": "medium",
    # Condensing a transcript we hand over is easy, and the job waits for it.
    "summary": "low",
    # Finding and citing the right moments takes some reasoning; the answer is short.
    "question": "medium",
    # Translating text we hand over is writing, not reasoning; the answer is long.
    "translation": "low",
}
#: How often and how long to wait for an upload that is still PROCESSING.
_PROCESSING_POLL_S = 1.0
_PROCESSING_MAX_POLLS = 120


class SpeakerRoster(BaseModel):
    """The short first pass over a long recording: its voices, in order of appearance."""

    model_config = ANSWER_MODEL_CONFIG

    speakers: list[str] = Field(
        default_factory=list, description="Speaker labels or names, in order of first appearance"
    )


def build_client(config: GeminiConfig) -> genai.Client:
    """The SDK client with an explicit API version, a timeout and bounded retries."""
    return genai.Client(
        api_key=config.api_key,
        http_options=types.HttpOptions(
            base_url=config.base_url,
            api_version=config.api_version,
            timeout=int(config.timeout_s * 1000),
            retry_options=types.HttpRetryOptions(
                attempts=config.attempts,
                initial_delay=config.initial_delay_s,
                max_delay=config.max_delay_s,
                http_status_codes=[408, 429, 500, 502, 503, 504],
            ),
        ),
    )


class GeminiTranscriber:
    """Sends audio and instructions to Gemini and returns validated answers."""

    def __init__(
        self, client: genai.Client, config: GeminiConfig, *, concurrency: asyncio.Semaphore
    ) -> None:
        self._client = client
        self._config = config
        self._slots = concurrency
        self._background: set[asyncio.Future[Any]] = set()

    @property
    def model(self) -> str:
        return self._config.model

    async def aclose(self) -> None:
        await self._client.aio.aclose()

    async def transcribe(
        self, audio: PreparedAudio, prompt: str, usage: Usage | None = None
    ) -> Transcript:
        """One structured transcription request for one piece of audio."""
        text = await self._ask_with_audio(audio, prompt, Transcript, "transcription", usage)
        return _parse(text, Transcript)

    async def list_speakers(
        self, audio: PreparedAudio, prompt: str, usage: Usage | None = None
    ) -> list[str]:
        text = await self._ask_with_audio(audio, prompt, SpeakerRoster, "roster", usage)
        try:
            return _parse(text, SpeakerRoster).speakers
        except TranscriptionError:
            return []  # a roster is a help, not a requirement

    async def ask_text(
        self, prompt: str, usage: Usage | None = None, *, kind: RequestKind = "question"
    ) -> str:
        """A plain-text request (whole-recording summary, questions about a recording)."""
        async with self._slots:
            interaction = await self._create(
                [{"type": "text", "text": prompt}], kind=kind, response_format=None, usage=usage
            )
        return str(interaction.output_text or "").strip()

    async def translate(
        self, transcript: Transcript, target: str, usage: Usage | None = None
    ) -> Transcript:
        """The transcript with its segments translated into `target` (text-only requests
        with the transcription's schema; `bot.gemini.translation`)."""

        async def ask(prompt: str) -> Transcript:
            async with self._slots:
                interaction = await self._create(
                    [{"type": "text", "text": prompt}],
                    kind="translation",
                    response_format=_json_format(Transcript),
                    usage=usage,
                )
            return _parse(_answer_text(interaction), Transcript)

        return await translate_in_batches(ask, transcript, target)

    async def _ask_with_audio(
        self,
        audio: PreparedAudio,
        prompt: str,
        schema: type[BaseModel],
        kind: RequestKind,
        usage: Usage | None,
    ) -> str:
        async with self._audio_block(audio, usage) as block:
            interaction = await self._create(
                [block, {"type": "text", "text": prompt}],
                kind=kind,
                response_format=_json_format(schema),
                usage=usage,
            )
        return _answer_text(interaction)

    @contextlib.asynccontextmanager
    async def _audio_block(
        self, audio: PreparedAudio, usage: Usage | None
    ) -> AsyncIterator[dict[str, str]]:
        """The audio's content block, yielded with a request slot held."""
        # The limit applies to what travels: base64 is 4/3 of the audio's size.
        if inline_size(audio.size_bytes) <= self._config.inline_limit_bytes:
            # The slot before the payload: chunks waiting for a slot hold no audio, so a
            # process holds at most SCRIBE_MAX_CONCURRENCY payloads however long the
            # recording.
            async with self._slots, inline_audio(audio) as block:
                yield block
            return
        uploaded = await self._upload(audio)
        name = str(uploaded.name)
        if usage is not None:
            usage.uploads.append(name)
        try:
            uploaded = await self._wait_active(uploaded)
            async with self._slots:
                yield {"type": "audio", "uri": str(uploaded.uri), "mime_type": audio.mime_type}
        finally:
            await self.delete_upload(name)

    async def _upload(self, audio: PreparedAudio) -> types.File:
        """Upload `audio` through the Files API.

        Once Gemini has created the file, only the answer to the last chunk tells us its
        name; so if the caller is cancelled meanwhile, the upload finishes in the
        background and whatever it created is deleted.
        """
        upload = asyncio.ensure_future(
            self._guard(
                self._client.aio.files.upload(
                    file=str(audio.path),
                    config=types.UploadFileConfig(
                        mime_type=audio.mime_type, display_name=audio.path.name
                    ),
                )
            )
        )
        try:
            uploaded: types.File = await asyncio.shield(upload)
        except asyncio.CancelledError:
            self._keep(upload).add_done_callback(self._delete_orphan)
            raise
        return uploaded

    def _delete_orphan(self, upload: asyncio.Future[Any]) -> None:
        if upload.cancelled() or upload.exception() is not None:
            return  # nothing was created, or the error was already logged by _guard
        self._keep(asyncio.ensure_future(self.delete_upload(str(upload.result().name))))

    def _keep(self, task: asyncio.Future[Any]) -> asyncio.Future[Any]:
        """Hold a reference to a background task until it ends (the loop keeps only weak ones)."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _wait_active(self, file: types.File) -> types.File:
        for _ in range(_PROCESSING_MAX_POLLS):
            state = str(getattr(file.state, "value", file.state) or "ACTIVE")
            if state == "ACTIVE":
                return file
            if state == "FAILED":
                raise TranscriptionError(
                    "Gemini could not process the uploaded audio.", reason="upload_failed"
                )
            await asyncio.sleep(_PROCESSING_POLL_S)
            file = await self._guard(self._client.aio.files.get(name=str(file.name)))
        raise GeminiUnavailableError("Gemini took too long to process the uploaded audio.")

    async def delete_upload(self, name: str) -> None:
        """Delete an upload; failures are logged, never raised (the file expires in 48 h)."""
        try:
            await asyncio.shield(self._client.aio.files.delete(name=name))
        except Exception:
            logger.exception("could not delete Gemini upload %s", name)

    async def _create(
        self,
        content: list[dict[str, str]],
        *,
        kind: RequestKind,
        response_format: dict[str, Any] | None,
        usage: Usage | None,
    ) -> Any:
        kwargs: dict[str, Any] = {
            "model": self._config.model,
            "input": content,
            # Interactions are kept server-side unless told otherwise; nothing here needs
            # them again, and they hold people's speech.
            "store": False,
            # No temperature: deprecated in the SDK's Interactions GenerationConfig, and
            # Google's Gemini 3 guidance is to keep the default (lower values can loop).
            "generation_config": {
                "max_output_tokens": MAX_OUTPUT_TOKENS,
                "thinking_level": THINKING_LEVELS[kind],
            },
        }
        if response_format is not None:
            # The instruction demands JSON: it must not go with plain-text requests.
            kwargs["response_format"] = response_format
            kwargs["system_instruction"] = SYSTEM_INSTRUCTION
        # The caller holds the request slot (it may have built the payload inside it).
        interaction = await self._within_budget(self._client.aio.interactions.create(**kwargs))
        if usage is not None:
            usage.add(interaction)
        return interaction

    async def _guard(self, call: Any) -> Any:
        """Run one SDK call inside the concurrency limit and the time budget."""
        async with self._slots:
            return await self._within_budget(call)

    async def _within_budget(self, call: Any) -> Any:
        """Run one SDK call inside the time budget; its failures become user-facing errors."""
        try:
            async with asyncio.timeout(self._config.budget_s):
                return await call
        except TimeoutError as exc:
            raise GeminiUnavailableError(
                "Gemini did not answer in time. Try again in a few minutes "
                "(mention me in this thread).",
                reason="gemini_timeout",
            ) from exc
        except (gi.APITimeoutError, gi.APIConnectionError) as exc:
            raise GeminiUnavailableError(
                "Gemini could not be reached or timed out. Try again in a few minutes "
                "(mention me in this thread).",
                reason="gemini_timeout",
            ) from exc
        except gi.APIStatusError as exc:
            raise error_from_status(int(exc.status_code or 0), str(exc)) from exc
        except genai_errors.APIError as exc:
            raise error_from_status(int(exc.code or 0), str(exc.message or "")) from exc
        except genai_errors.ContinuationInterruptedError as exc:
            # A plain Exception: the SDK's automatic continuation of a long answer
            # failed after earlier hops succeeded (the hop's error is the cause).
            logger.warning("Gemini's answer was cut off between hops: %r", exc.__cause__)
            raise GeminiUnavailableError(
                "Gemini stopped partway through its answer and could not continue. "
                "Try again in a few minutes (mention me in this thread).",
                reason="gemini_interrupted",
            ) from exc
        except (ValueError, KeyError) as exc:
            # The SDK raises ValueError, or KeyError when the upload's start has no
            # upload URL, for malformed answers; only SDK calls run in here.
            logger.warning("Gemini answered in an unexpected way: %r", exc)
            raise GeminiUnavailableError(
                "Gemini sent an answer this app could not read. Try again in a few "
                "minutes (mention me in this thread).",
                reason="gemini_malformed",
            ) from exc


@contextlib.asynccontextmanager
async def inline_audio(audio: PreparedAudio) -> AsyncIterator[dict[str, str]]:
    """The audio as an inline content block; the payload lives as long as the block."""
    data = await asyncio.to_thread(audio.path.read_bytes)
    yield {
        "type": "audio",
        "data": base64.b64encode(data).decode("ascii"),
        "mime_type": audio.mime_type,
    }


def inline_size(raw_bytes: int) -> int:
    """Bytes of base64 that `raw_bytes` of audio become in an inline request."""
    return 4 * ((raw_bytes + 2) // 3)


def _json_format(schema: type[BaseModel]) -> dict[str, Any]:
    return {"type": "text", "mime_type": "application/json", "schema": response_schema(schema)}


def _answer_text(interaction: Any) -> str:
    """A structured answer's text; an answer cut short or declined raises."""
    status = str(getattr(interaction, "status", ""))
    if status in ("incomplete", "budget_exceeded", "requires_continuation"):
        raise TruncatedAnswerError(
            "The transcript was longer than Gemini can answer in one go.", reason="truncated"
        )
    if status in ("failed", "cancelled"):
        raise TranscriptionError(
            "Gemini declined to transcribe this recording (it may have been blocked by "
            "Gemini's safety filters). Nothing more can be done for this file.",
            reason="blocked",
        )
    return str(interaction.output_text or "")


def _parse(text: str, model: type[M]) -> M:
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        if _looks_truncated(text):
            raise TruncatedAnswerError(
                "The transcript was longer than Gemini can answer in one go.",
                reason="truncated",
            ) from exc
        # Only where and what, never the values: they are transcript text.
        logger.warning(
            "Gemini answer did not match the schema: %s",
            [(e["loc"], e["type"]) for e in exc.errors(include_input=False)[:3]],
        )
        raise TranscriptionError(
            "Gemini's answer was not a usable transcript. Mention me in this thread to try "
            "again; if it keeps failing, the audio may be unclear.",
            reason="invalid_answer",
        ) from exc


def _looks_truncated(text: str) -> bool:
    stripped = text.rstrip()
    return stripped.startswith("{") and not stripped.endswith("}")
