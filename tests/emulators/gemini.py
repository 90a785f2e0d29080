"""A local Gemini API emulator that the real google-genai SDK talks to over HTTP.

It speaks the wire format in shared/reference/gemini-wire.md: the resumable Files
upload, files get/list/delete, models get/list, the Interactions API and a minimal
generateContent. Answers are scripted per test, or derived from the audio itself
(decoded with PyAV) so a transcript's timestamps always fit the recording; a text-only
request to translate a transcript is answered from the transcript it carries
(`translation_seed`).

Choices that were not observed on the real service (GUESS) are marked below.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime as dt
import hashlib
import io
import json
import math
import re
import secrets
import shutil
import string
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
from aiohttp import web

from tests.emulators.gemini_voices import VoicedRecording

__all__ = [
    "Blocked",
    "Continuation",
    "Fault",
    "GeminiEmulator",
    "RecordedRequest",
    "StoredFile",
    "Truncated",
]

# Gemini's documented audio types (ai.google.dev/gemini-api/docs/audio) plus
# audio/mpeg, which is what most tools call MP3.
SUPPORTED_AUDIO_MIME_TYPES = frozenset(
    {"audio/wav", "audio/mp3", "audio/aiff", "audio/aac", "audio/ogg", "audio/flac", "audio/mpeg"}
)
AUDIO_TOKENS_PER_SECOND = 32  # docs: "32 tokens per second of audio"
SEGMENT_EVERY_S = 10
FILE_TTL = dt.timedelta(hours=48)
UPLOAD_CHUNK_GRANULARITY = 262_144  # what Google announces; the SDK ignores it

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_DEFAULT_MESSAGES = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    408: "Deadline expired before operation could complete.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    502: "The service is currently unavailable.",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
_API_KEY_INVALID = "API key not valid. Please pass a valid API key."
# GUESS (from memory): what Google answers when no key is sent at all.
_API_KEY_MISSING = (
    "Method doesn't allow unregistered callers (callers without established identity)."
    " Please use API Key or other form of API consumer identity to call this API."
)

# The fields of the SDK's Interactions GenerationConfig (google-genai 3.6.1,
# google/genai/_gaos/types/interactions/generationconfig.py, class GenerationConfig);
# a test keeps this list equal to the installed SDK's.
GENERATION_CONFIG_FIELDS = frozenset(
    {
        "image_config",
        "max_output_tokens",
        "seed",
        "speech_config",
        "stop_sequences",
        "temperature",
        "thinking_level",
        "thinking_summaries",
        "tool_choice",
        "top_p",
        "transcription_config",
        "video_config",
    }
)
# google/genai/_gaos/types/interactions/thinkinglevel.py
THINKING_LEVELS = ("minimal", "low", "medium", "high", "xhigh")
# Thought tokens reported per thinking level: a fixed part plus a share of the answer's
# tokens. An invented model shaped like Google's description of the levels (higher
# levels think more, "minimal" is close to no thinking); its numbers compare choices,
# they do not predict a bill. Thinking is billed as output and takes time like output.
THINKING_MODEL: dict[str, tuple[int, float]] = {
    "minimal": (0, 0.0),
    "low": (128, 0.1),
    "medium": (512, 0.3),
    "high": (2048, 0.6),
    "xhigh": (8192, 1.0),
}
# Gemini 3 docs: without thinking_level the model thinks at "high" (docs, from memory).
DEFAULT_THINKING_LEVEL = "high"

# JSON Schema keywords Gemini's structured output takes. Sources:
# - ai.google.dev/gemini-api/docs/structured-output, "JSON Schema support" (the Nov 2025
#   update; the list as remembered, no stored copy was found): type, title, description,
#   properties, required, additionalProperties, enum, format, minimum, maximum, items,
#   prefixItems, minItems, maxItems, anyOf, $ref, $defs.
# - the SDK's TextResponseFormat.schema docstring (google-genai 3.6.1,
#   google/genai/_gaos/types/interactions/textresponseformat.py): minLength, maxLength,
#   minProperties, maxProperties, uniqueItems, contains, minContains and maxContains are
#   accepted but not enforced.
# Stricter than Google where unsure: every other keyword (default, pattern, oneOf, allOf,
# not, const, examples, propertyOrdering, nullable, ...) is refused with a 400, though the
# real service may ignore some silently; nothing here should rely on one of them.
SCHEMA_KEYWORDS = frozenset(
    {
        "type",
        "title",
        "description",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "format",
        "minimum",
        "maximum",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "anyOf",
        "$ref",
        "$defs",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
    }
)
# TextResponseFormat's fields (same SDK file); "audio", "image" and "video" formats exist
# but this emulator answers text only.
_RESPONSE_FORMAT_FIELDS = frozenset({"type", "mime_type", "schema"})

_VERSION = r"{ver:v\d+[a-z0-9]*}"
_ROSTER = re.compile(r"^\s*Speakers:\s*(.+?)\s*$", re.MULTILINE)
# A translation request (bot/gemini/prompts.py translation_prompt): the target language on a
# line of its own, the transcript to translate as JSON between <transcript> tags.
_TRANSLATE_TARGET = re.compile(r"^Target language: (\S+)$", re.MULTILINE)
_TRANSCRIPT_JSON = re.compile(r"<transcript>\s*(\{.*\})\s*</transcript>", re.DOTALL)
_FILE_IN_URI = re.compile(r"(?:^|/)files/([A-Za-z0-9_-]+)(?:[?#].*)?$")
_INTERACTIONS_PATH = re.compile(r"^/v\d+[a-z0-9]*/interactions$")
_STEP_TYPES = frozenset({"model_output", "thought", "function_call", "function_result"})


def google_status(code: int) -> str:
    """The `error.status` string Google pairs with an HTTP code."""
    if code in _STATUS_NAMES:
        return _STATUS_NAMES[code]
    return "INTERNAL" if code >= 500 else "INVALID_ARGUMENT"


def error_body(code: int, message: str | None = None, **extra: Any) -> dict[str, Any]:
    """Google's error JSON: `{"error": {"code", "message", "status", ...}}`."""
    error: dict[str, Any] = {
        "code": code,
        "message": message or _DEFAULT_MESSAGES.get(code, "Error."),
        "status": extra.pop("status", None) or google_status(code),
    }
    error.update(extra)
    return {"error": error}


# --- scripting types ---------------------------------------------------------------------


@dataclass
class Fault:
    """Answer with this HTTP error (Google's error JSON unless `body` is given)."""

    status: int = 429
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] | None = None
    message: str | None = None

    def response(self) -> web.Response:
        headers = dict(self.headers or {})
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body, headers=headers)
        body = self.body if self.body is not None else error_body(self.status, self.message)
        return web.json_response(body, status=self.status, headers=headers)


@dataclass
class Truncated:
    """The answer's JSON text cut in half: status "incomplete" / finishReason MAX_TOKENS."""

    answer: dict[str, Any] | str


@dataclass
class Blocked:
    """A safety-blocked answer. See `GeminiEmulator` for the shape sent."""

    reason: str = "SAFETY"


@dataclass
class Continuation:
    """Part of an answer with status "requires_continuation" and a fresh continuation token.

    The SDK then continues by itself (the next request carries `continuation_token`) and
    merges the hops; script what the next hop answers, e.g. the rest, or a `Fault` to make
    the SDK raise ContinuationInterruptedError. The status and token field are the SDK's
    (google/genai/_interactions_continuation.py); the real server's use of them is GUESS.
    """

    answer: dict[str, Any] | str


Answer = (
    dict[str, Any]
    | str
    | Fault
    | Truncated
    | Blocked
    | Continuation
    | Callable[[dict[str, Any]], Any]
)


@dataclass
class RecordedRequest:
    """One HTTP request as the emulator saw it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body_size: int
    query: dict[str, str] = field(default_factory=dict)
    #: When it arrived (epoch seconds): tests of due times compare against the journal's.
    at: float = field(default_factory=time.time)


@dataclass
class StoredFile:
    """An uploaded file; its bytes live in the emulator's temp dir."""

    name: str
    display_name: str | None
    mime_type: str
    path: Path
    size_bytes: int
    sha256: str
    created: dt.datetime
    state: str = "ACTIVE"
    polls_left: int = 0  # files.get calls still answered PROCESSING
    end_state: str = "ACTIVE"
    duration_s: float | None = None  # cached PyAV probe

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    def to_json(self, base_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name}
        if self.display_name:
            body["displayName"] = self.display_name
        body |= {
            "mimeType": self.mime_type,
            "sizeBytes": str(self.size_bytes),
            "createTime": _timestamp(self.created),
            "updateTime": _timestamp(self.created),
            "expirationTime": _timestamp(self.created + FILE_TTL),
            # GUESS: base64 of the hex digest; the real encoding may differ.
            "sha256Hash": base64.b64encode(self.sha256.encode()).decode(),
            "uri": f"{base_url}/v1beta/{self.name}",
            "state": self.state,
            "source": "UPLOADED",
        }
        return body


@dataclass
class _Upload:
    display_name: str | None
    mime_type: str
    declared_size: int | None
    path: Path
    received: int = 0
    sha: Any = field(default_factory=hashlib.sha256)


@dataclass
class _Prompt:
    """What a model call asked for, whichever API it came through."""

    model: str
    texts: list[str]
    audio_seconds: float
    has_audio: bool
    #: The JSON schema the answer must follow ({} for any JSON), None for plain text.
    schema: dict[str, Any] | None = None
    thinking_level: str = DEFAULT_THINKING_LEVEL


class _ApiError(Exception):
    def __init__(self, code: int, message: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.body = error_body(code, message, **extra)

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.code)


# --- the emulator ---------------------------------------------------------------------------


class GeminiEmulator:
    """Gemini Developer API on 127.0.0.1 for one test.

    Scripted answers (`script`) are shared by interactions and generateContent, FIFO.
    `Blocked()` becomes, for interactions, status "failed" with no output steps and
    `errors: [{"code": "SAFETY", "message": ...}]`; for generateContent,
    `promptFeedback.blockReason` with no candidates (the latter is the observed shape,
    the former a GUESS modelled on the SDK's Interaction type).
    """

    def __init__(
        self,
        *,
        api_key: str = "test-gemini-key",
        models: tuple[str, ...] | list[str] = (
            "gemini-3.5-flash",
            "gemini-3.6-flash",
            "gemini-2.5-flash",
        ),
    ) -> None:
        self.api_key = api_key
        self.models = list(models)
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self.interaction_requests: list[dict[str, Any]] = []
        self.generate_requests: list[dict[str, Any]] = []
        self.files: dict[str, StoredFile] = {}
        self.deleted_files: list[str] = []
        #: Every interaction answered, by id, with its full timeline (a log for tests).
        self.interactions: dict[str, dict[str, Any]] = {}
        #: Ids the "server" keeps for GET: all but those created with store=False.
        self.stored_interactions: set[str] = set()
        self.max_concurrent_interactions = 0
        self.in_flight_interactions = 0
        # knobs
        self.files_stay_processing_for = 0
        self.files_end_state = "ACTIVE"  # state after processing; "FAILED" to test that path
        self.latency_s = 0.0
        self.tokens_per_s: float | None = None
        self.inline_limit_bytes = 20 * 1024 * 1024
        self.hang_s = 0.0
        #: Who speaks when in the recording under test: unscripted requests are answered
        #: from it per chunk, as a listening model would (tests/emulators/gemini_voices.py).
        self.voices: VoicedRecording | None = None
        # Answer an upload's start without X-Goog-Upload-URL (the SDK raises KeyError).
        self.omit_upload_url = False
        # Seconds between storing a finished upload and answering its last chunk: the
        # window in which a cancelled client has created a file it does not know about.
        self.upload_finalize_delay_s = 0.0
        self._continuations = 0
        self._script: collections.deque[Answer] = collections.deque()
        self._fail_next: list[list[Any]] = []  # [remaining, status, path_contains, headers]
        self._fail_always: dict[str, int] = {}
        self._uploads: dict[str, _Upload] = {}
        self._tmp: Path | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle

    async def start(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="gemini-emu-"))
        app = web.Application(middlewares=[self._middleware], client_max_size=2**31)
        r = app.router
        r.add_post(f"/upload/{_VERSION}/files", self._upload)
        r.add_get(f"/{_VERSION}/files", self._list_files)
        r.add_get(f"/{_VERSION}/files/{{id}}", self._get_file)
        r.add_delete(f"/{_VERSION}/files/{{id}}", self._delete_file)
        r.add_get(f"/{_VERSION}/models", self._list_models)
        r.add_get(f"/{_VERSION}/models/{{model}}", self._get_model)
        r.add_post(f"/{_VERSION}/models/{{call}}", self._model_call)
        r.add_post(f"/{_VERSION}/interactions", self._create_interaction)
        r.add_get(f"/{_VERSION}/interactions/{{id}}", self._get_interaction)
        r.add_route("*", "/{tail:.*}", self._unknown_route)
        # handler_cancellation: a client that times out must not leave a sleeping handler
        # behind that makes close() wait.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    async def __aenter__(self) -> GeminiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- scripting

    def script(self, *answers: Answer) -> None:
        """Queue answers for the next model calls, one each, FIFO."""
        self._script.extend(answers)

    def fail_next(
        self,
        n: int,
        status: int,
        *,
        path_contains: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `n` requests whose path contains `path_contains` get `status`."""
        self._fail_next.append([n, status, path_contains, dict(headers or {})])

    def fail_always(self, status: int | None, *, path_contains: str = "") -> None:
        """Every matching request gets `status`; None clears (all rules if no path given)."""
        if status is None:
            if path_contains:
                self._fail_always.pop(path_contains, None)
            else:
                self._fail_always.clear()
        else:
            self._fail_always[path_contains] = status

    # -- plumbing

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.read()
        is_chunk = request.path.startswith("/upload/") and "upload_id" in request.query
        parsed: Any = None
        if body and not is_chunk:
            with contextlib.suppress(ValueError):
                parsed = json.loads(body)
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                json=parsed,
                body_size=len(body),
                query=dict(request.query),
            )
        )
        if (
            request.method == "POST"
            and _INTERACTIONS_PATH.match(request.path)
            and isinstance(parsed, dict)
        ):
            self.interaction_requests.append(parsed)
        try:
            response = self._injected_fault(request.path)
            if response is None:
                if not is_chunk:
                    self._check_api_key(request)
                response = await handler(request)
        except _ApiError as exc:
            response = exc.response()
        if is_chunk and response.status != 200 and "X-Goog-Upload-Status" not in response.headers:
            # Without this header the SDK re-sends the chunk after 1+2+4 s sleeps.
            response.headers["X-Goog-Upload-Status"] = "final"
        return response

    def _injected_fault(self, path: str) -> web.Response | None:
        for rule in self._fail_next:
            remaining, status, needle, headers = rule
            if remaining > 0 and needle in path:
                rule[0] -= 1
                self._fail_next = [r for r in self._fail_next if r[0] > 0]
                return Fault(status=status, headers=headers).response()
        for needle, status in self._fail_always.items():
            if needle in path:
                return Fault(status=status).response()
        return None

    def _check_api_key(self, request: web.Request) -> None:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            raise _ApiError(403, _API_KEY_MISSING)
        if key != self.api_key:
            raise _ApiError(
                400,
                _API_KEY_INVALID,
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": _API_KEY_INVALID,
                    },
                ],
            )

    async def _unknown_route(self, request: web.Request) -> web.Response:
        raise _ApiError(404, f"Method not found: {request.method} {request.path}")

    # -- files

    async def _upload(self, request: web.Request) -> web.Response:
        upload_id = request.query.get("upload_id")
        if upload_id is None:
            return await self._start_upload(request)
        upload = self._uploads.get(upload_id)
        if upload is None:
            raise _ApiError(404, f"Upload session {upload_id} was not found.")  # GUESS text
        commands = {c.strip() for c in request.headers.get("X-Goog-Upload-Command", "").split(",")}
        if "query" in commands:
            return web.Response(
                headers={
                    "X-Goog-Upload-Status": "active",
                    "X-Goog-Upload-Size-Received": str(upload.received),
                }
            )
        if "cancel" in commands:
            self._uploads.pop(upload_id)
            upload.path.unlink(missing_ok=True)
            return web.Response(headers={"X-Goog-Upload-Status": "cancelled"})
        if "upload" not in commands:
            raise _ApiError(400, "Missing or unknown X-Goog-Upload-Command.")
        try:
            offset = int(request.headers["X-Goog-Upload-Offset"])
        except (KeyError, ValueError):
            raise _ApiError(400, "Missing or invalid X-Goog-Upload-Offset.") from None
        if offset != upload.received:
            # GUESS text; the fact that a gap or overlap is refused is what matters.
            raise _ApiError(
                400, f"Invalid upload offset {offset}: {upload.received} bytes received so far."
            )
        chunk = await request.read()
        with upload.path.open("ab") as fh:
            fh.write(chunk)
        upload.sha.update(chunk)
        upload.received += len(chunk)
        if "finalize" not in commands:
            return web.Response(headers={"X-Goog-Upload-Status": "active"})
        self._uploads.pop(upload_id)
        if upload.declared_size is not None and upload.declared_size != upload.received:
            upload.path.unlink(missing_ok=True)
            raise _ApiError(
                400,
                f"Upload size mismatch: declared {upload.declared_size} bytes,"
                f" received {upload.received}.",
            )
        name = f"files/{upload_id[:12]}"
        processing = self.files_stay_processing_for > 0
        stored = StoredFile(
            name=name,
            display_name=upload.display_name,
            mime_type=upload.mime_type,
            path=upload.path,
            size_bytes=upload.received,
            sha256=upload.sha.hexdigest(),
            created=_now(),
            state="PROCESSING" if processing else self.files_end_state,
            polls_left=self.files_stay_processing_for,
            end_state=self.files_end_state,
        )
        self.files[name] = stored
        if self.upload_finalize_delay_s:
            await asyncio.sleep(self.upload_finalize_delay_s)
        return web.json_response(
            {"file": stored.to_json(self.base_url)}, headers={"X-Goog-Upload-Status": "final"}
        )

    async def _start_upload(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Goog-Upload-Protocol", "").lower() != "resumable":
            raise _ApiError(400, "Only the resumable upload protocol is emulated.")
        body = _json_body(await request.read())
        meta = (body.get("file") if isinstance(body, dict) else None) or {}
        mime = (
            _pick(meta, "mime_type", "mimeType")
            or request.headers.get("X-Goog-Upload-Header-Content-Type")
            or "application/octet-stream"
        )
        declared = request.headers.get("X-Goog-Upload-Header-Content-Length")
        declared = declared or _pick(meta, "size_bytes", "sizeBytes")
        upload_id = _random_id(24)
        assert self._tmp is not None
        path = self._tmp / upload_id
        path.touch()
        self._uploads[upload_id] = _Upload(
            display_name=_pick(meta, "display_name", "displayName"),
            mime_type=mime,
            declared_size=int(declared) if declared is not None else None,
            path=path,
        )
        ver = request.match_info["ver"]
        url = f"{self.base_url}/upload/{ver}/files?upload_id={upload_id}&upload_protocol=resumable"
        headers = {
            "X-Goog-Upload-URL": url,
            "X-Goog-Upload-Status": "active",
            "X-Goog-Upload-Chunk-Granularity": str(UPLOAD_CHUNK_GRANULARITY),
        }
        if self.omit_upload_url:
            del headers["X-Goog-Upload-URL"]
        return web.Response(headers=headers)

    def _file_or_403(self, name: str) -> StoredFile:
        stored = self.files.get(name)
        if stored is None:
            # GUESS text (from memory).
            raise _ApiError(
                403, f"You do not have permission to access the File {name} or it may not exist."
            )
        return stored

    async def _get_file(self, request: web.Request) -> web.Response:
        stored = self._file_or_403(f"files/{request.match_info['id']}")
        if stored.state == "PROCESSING":
            if stored.polls_left > 0:
                stored.polls_left -= 1
            else:
                stored.state = stored.end_state
        return web.json_response(stored.to_json(self.base_url))

    async def _list_files(self, request: web.Request) -> web.Response:
        listed = [f.to_json(self.base_url) for f in self.files.values()]
        return web.json_response({"files": listed} if listed else {})

    async def _delete_file(self, request: web.Request) -> web.Response:
        name = f"files/{request.match_info['id']}"
        stored = self._file_or_403(name)
        del self.files[name]
        stored.path.unlink(missing_ok=True)
        self.deleted_files.append(name)
        return web.json_response({})

    # -- models

    def _model_json(self, model: str) -> dict[str, Any]:
        version = model.removeprefix("gemini-").split("-")[0]
        return {
            "name": f"models/{model}",
            "version": version,
            "displayName": " ".join(p.capitalize() for p in model.split("-")),
            "description": f"Emulated {model}.",
            "inputTokenLimit": 1_048_576,
            "outputTokenLimit": 65_536,
            "supportedGenerationMethods": [
                "generateContent",
                "countTokens",
                "createCachedContent",
                "batchGenerateContent",
            ],
            "temperature": 1.0,
            "topP": 0.95,
            "topK": 64,
            "maxTemperature": 2.0,
            "thinking": True,
        }

    def _known_model(self, model: Any, ver: str) -> str:
        name = str(model or "").removeprefix("models/")
        if name not in self.models:
            raise _ApiError(
                404,
                f"models/{name} is not found for API version {ver}, "
                "or is not supported for generateContent. "
                "Call ListModels to see the list of available models and their supported methods.",
            )
        return name

    async def _list_models(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [self._model_json(m) for m in self.models]})

    async def _get_model(self, request: web.Request) -> web.Response:
        name = self._known_model(request.match_info["model"], request.match_info["ver"])
        return web.json_response(self._model_json(name))

    # -- model calls: shared pieces

    def _check_size(self, raw: bytes) -> None:
        if len(raw) > self.inline_limit_bytes:
            # GUESS text (from memory).
            raise _ApiError(
                400, f"Request payload size exceeds the limit: {self.inline_limit_bytes} bytes."
            )

    async def _audio_seconds(self, block: dict[str, Any]) -> float:
        """Validate one audio block (type, file state, decodability) and measure it."""
        uri, data = block.get("uri"), block.get("data")
        mime = block.get("mime_type")
        stored: StoredFile | None = None
        if uri:
            match = _FILE_IN_URI.search(str(uri))
            name = f"files/{match.group(1)}" if match else str(uri)
            stored = self._file_or_403(name)
            mime = mime or stored.mime_type
        mime_base = str(mime or "").split(";")[0].strip().lower()
        if mime_base not in SUPPORTED_AUDIO_MIME_TYPES:
            raise _ApiError(400, f"Unsupported MIME type: {mime}")
        if stored is not None:
            if stored.state != "ACTIVE":
                raise _ApiError(
                    400,
                    f"The File {stored.name} is not in an ACTIVE state and usage is not allowed.",
                    status="FAILED_PRECONDITION",
                )
            if stored.duration_s is None:
                stored.duration_s = await asyncio.to_thread(_probe_seconds, stored.path)
            seconds = stored.duration_s
        elif isinstance(data, str) and data:
            seconds = await asyncio.to_thread(_probe_seconds, _b64decode(data))
        else:
            raise _ApiError(400, "Audio content needs either `data` or `uri`.")
        if seconds is None:
            raise _ApiError(400)
        return seconds

    async def _prompt(self, model: str, blocks: list[dict[str, Any]], extra: list[str]) -> _Prompt:
        texts = [t for t in extra if t]
        seconds, has_audio = 0.0, False
        for block in blocks:
            kind = block.get("type")
            if kind == "text":
                texts.append(str(block.get("text") or ""))
            elif kind == "audio":
                seconds += await self._audio_seconds(block)
                has_audio = True
            else:
                # This emulator only models text and audio.
                raise _ApiError(400, f"Unsupported MIME type: {block.get('mime_type') or kind}")
        return _Prompt(model=model, texts=texts, audio_seconds=seconds, has_audio=has_audio)

    def _next_answer(self, request_json: dict[str, Any], prompt: _Prompt) -> Answer:
        answer: Any = self._script.popleft() if self._script else None
        if callable(answer):
            answer = answer(request_json)
        if answer is None and self.voices is not None:
            answer = self.voices.answer(prompt.texts, prompt.audio_seconds, prompt.schema)
        if answer is None:
            answer = _default_answer(prompt)
        return answer

    async def _delay(self, output_text: str = "", thought_tokens: int = 0) -> None:
        delay = self.hang_s + self.latency_s
        if self.tokens_per_s:
            delay += (_tokens(output_text) + thought_tokens) / self.tokens_per_s
        if delay > 0:
            await asyncio.sleep(delay)

    @contextlib.contextmanager
    def _in_flight(self) -> Any:
        self.in_flight_interactions += 1
        self.max_concurrent_interactions = max(
            self.max_concurrent_interactions, self.in_flight_interactions
        )
        try:
            yield
        finally:
            self.in_flight_interactions -= 1

    # -- interactions

    async def _create_interaction(self, request: web.Request) -> web.Response:
        with self._in_flight():
            raw = await request.read()
            self._check_size(raw)
            body = _json_body(raw)
            if not isinstance(body, dict):
                raise _ApiError(400, "Invalid JSON payload received.")
            model = self._known_model(body.get("model"), request.match_info["ver"])
            schema = _response_schema(body.get("response_format"))
            level = _thinking_level(body.get("generation_config"))
            # A stateful continuation hop names the previous interaction instead of input.
            resumed = body.get("continuation_token") and "input" not in body
            blocks = [] if resumed else _interaction_blocks(body.get("input"))
            prompt = await self._prompt(model, blocks, [_system_instruction(body)])
            prompt.schema, prompt.thinking_level = schema, level
            answer = self._next_answer(body, prompt)
            if isinstance(answer, Fault):
                await self._delay()
                return answer.response()
            interaction = self._interaction_json(model, prompt, answer)
            usage = interaction["usage"]
            await self._delay(_answer_text(answer), usage.get("total_thought_tokens", 0))
            self.interactions[interaction["id"]] = {
                **interaction,
                "steps": [{"type": "user_input", "content": blocks}, *interaction["steps"]],
            }
            if body.get("store") is not False:
                # store defaults to True (the SDK's docstring): the timeline is kept for GET.
                self.stored_interactions.add(interaction["id"])
            return web.json_response(interaction)

    def _interaction_json(self, model: str, prompt: _Prompt, answer: Answer) -> dict[str, Any]:
        now = _timestamp(_now())
        out: dict[str, Any] = {
            "id": f"v1_{_random_id(32)}",
            "model": model,
            "created": now,
            "updated": now,
        }
        text = _answer_text(answer)
        if isinstance(answer, Continuation):
            self._continuations += 1
            out |= {
                "status": "requires_continuation",
                "continuation_token": f"ct-{self._continuations}",
                "steps": [{"type": "model_output", "content": [{"type": "text", "text": text}]}],
            }
        elif isinstance(answer, Blocked):
            out |= {
                "status": "failed",
                "steps": [],
                "errors": [
                    {
                        "code": answer.reason,
                        "message": f"The response was blocked ({answer.reason}).",
                    }
                ],
            }
        else:
            out |= {
                "status": "incomplete" if isinstance(answer, Truncated) else "completed",
                "steps": [{"type": "model_output", "content": [{"type": "text", "text": text}]}],
            }
        in_tok, out_tok = _input_tokens(prompt), _tokens(text)
        thought = thought_tokens(prompt.thinking_level, out_tok)
        # GUESS, modelled on generateContent's usageMetadata: output excludes thoughts,
        # the total counts both.
        out["usage"] = {
            "total_input_tokens": in_tok,
            "total_output_tokens": out_tok,
            "total_thought_tokens": thought,
            "total_tokens": in_tok + out_tok + thought,
        }
        return out

    async def _get_interaction(self, request: web.Request) -> web.Response:
        found = self.interactions.get(request.match_info["id"])
        if found is None or request.match_info["id"] not in self.stored_interactions:
            raise _ApiError(404, f"Interaction {request.match_info['id']} was not found.")
        return web.json_response(found)

    # -- generateContent (minimal)

    async def _model_call(self, request: web.Request) -> web.StreamResponse:
        model_part, _, method = request.match_info["call"].rpartition(":")
        if method not in {"generateContent", "streamGenerateContent", "countTokens"}:
            raise _ApiError(404, f"Method not found: {method}")
        with self._in_flight():
            raw = await request.read()
            self._check_size(raw)
            body = _json_body(raw)
            if not isinstance(body, dict):
                raise _ApiError(400, "Invalid JSON payload received.")
            model = self._known_model(model_part, request.match_info["ver"])
            contents = body.get("contents") or []
            system = _pick(body, "systemInstruction", "system_instruction") or {}
            blocks = _generate_blocks(contents)
            extra = [str(p.get("text") or "") for p in (system.get("parts") or [])]
            prompt = await self._prompt(model, blocks, extra)
            if method == "countTokens":
                return web.json_response({"totalTokens": _input_tokens(prompt)})
            self.generate_requests.append(body)
            answer = self._next_answer(body, prompt)
            if isinstance(answer, Fault):
                await self._delay()
                return answer.response()
            payload = _generate_json(model, prompt, answer)
            await self._delay(_answer_text(answer))
            if method == "generateContent":
                return web.json_response(payload)
            return await self._stream(request, payload)

    async def _stream(self, request: web.Request, payload: dict[str, Any]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        candidates = payload.get("candidates") or []
        text = candidates[0]["content"]["parts"][0]["text"] if candidates else ""
        third = max(1, math.ceil(len(text) / 3))
        pieces = [text[i : i + third] for i in range(0, len(text), third)] or [""]
        for i, piece in enumerate(pieces):
            chunk = json.loads(json.dumps(payload))
            if chunk.get("candidates"):
                chunk["candidates"][0]["content"]["parts"][0]["text"] = piece
                if i < len(pieces) - 1:
                    del chunk["candidates"][0]["finishReason"]
            await response.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
        await response.write_eof()
        return response


# --- pure helpers ------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _timestamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _random_id(n: int) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _pick(d: Any, *keys: str) -> Any:
    if not isinstance(d, dict):
        return None
    for key in keys:
        if d.get(key) is not None:
            return d[key]
    return None


def _json_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise _ApiError(400, "Invalid JSON payload received.") from None


def _b64decode(data: str) -> bytes:
    """Standard or URL-safe base64 (the SDK uses both, per API)."""
    normalised = data.strip().replace("-", "+").replace("_", "/")
    normalised += "=" * (-len(normalised) % 4)
    try:
        return base64.b64decode(normalised, validate=True)
    except ValueError:
        raise _ApiError(
            400, "Invalid value at 'data' (TYPE_BYTES), Base64 decoding failed."
        ) from None


def _probe_seconds(source: Path | bytes) -> float | None:
    """Seconds of audio in an encoded file, or None when PyAV cannot decode it."""
    try:
        container = av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source))
    except Exception:
        return None
    try:
        with container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            frames = container.decode(stream)
            # Decode one frame so a file with a valid header but garbage data still fails.
            first = next(frames, None)
            if first is None:
                return None
            if container.duration:
                return container.duration / av.time_base
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            samples = first.samples + sum(frame.samples for frame in frames)
            return samples / (first.sample_rate or 1)
    except Exception:
        return None


def thought_tokens(level: str, output_tokens: int) -> int:
    """Thought tokens the emulator reports for an answer of `output_tokens` (THINKING_MODEL)."""
    base, share = THINKING_MODEL[level]
    return base + math.ceil(share * output_tokens)


def _bad_field(message: str, field_path: str) -> _ApiError:
    """Google's 400 for a request field it cannot take, with a BadRequest detail."""
    return _ApiError(
        400,
        message,
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field_path, "description": message}],
            }
        ],
    )


def _unknown_name(name: str, at: str) -> _ApiError:
    # The wording of Google's proto-JSON parser (observed for generateContent; GUESS that
    # the Interactions front end answers the same).
    return _bad_field(
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field.",
        at,
    )


def _system_instruction(body: dict[str, Any]) -> str:
    """The request's system instruction (a string in the SDK's CreateModelInteraction)."""
    value = body.get("system_instruction")
    if value is None:
        return ""
    if not isinstance(value, str):
        # GUESS text, in the proto-JSON parser's style.
        raise _bad_field(
            f"Invalid value at 'system_instruction' (TYPE_STRING), {json.dumps(value)}",
            "system_instruction",
        )
    return value


def _thinking_level(config: Any) -> str:
    """Check generation_config against the SDK's GenerationConfig; its thinking level."""
    if config is None:
        return DEFAULT_THINKING_LEVEL
    if not isinstance(config, dict):
        raise _bad_field("Invalid value at 'generation_config'.", "generation_config")
    for name in config:
        if name not in GENERATION_CONFIG_FIELDS:
            raise _unknown_name(name, "generation_config")
    level = config.get("thinking_level")
    if level is None:
        return DEFAULT_THINKING_LEVEL
    if level not in THINKING_LEVELS:
        raise _bad_field(  # GUESS text
            f"Invalid value at 'generation_config.thinking_level', {json.dumps(level)}",
            "generation_config.thinking_level",
        )
    return str(level)


def _response_schema(value: Any) -> dict[str, Any] | None:
    """The JSON schema a response_format asks for ({} for any JSON); None for plain text."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad_field("Invalid value at 'response_format'.", "response_format")
    if value.get("type") != "text":
        # A bare JSON schema here is the legacy form (gemini-wire.md: sunset in 2026; GUESS
        # that it is now refused rather than read); other formats are not emulated.
        raise _bad_field(
            f"Invalid value at 'response_format.type', {json.dumps(value.get('type'))}: "
            'expected a response format such as {"type": "text", ...}.',
            "response_format.type",
        )
    for name in value:
        if name not in _RESPONSE_FORMAT_FIELDS:
            raise _unknown_name(name, "response_format")
    mime = value.get("mime_type") or "text/plain"
    schema = value.get("schema")
    if mime == "text/plain" and schema is None:
        return None
    if mime != "application/json":
        # SDK docstring: the schema is "only applicable when mime_type is application/json".
        raise _bad_field(
            f"Invalid value at 'response_format.mime_type', {json.dumps(mime)}",
            "response_format.mime_type",
        )
    if schema is None:
        return {}
    _check_schema(schema, "response_format.schema")
    return dict(schema)


def _check_schema(node: Any, at: str) -> None:
    """Refuse any keyword outside SCHEMA_KEYWORDS, anywhere in the schema."""
    if not isinstance(node, dict):
        raise _bad_field(f"Invalid value at '{at}': a schema must be an object.", at)
    for key, value in node.items():
        if key not in SCHEMA_KEYWORDS:
            raise _unknown_name(key, at)
        if key in ("properties", "$defs"):
            for name, sub in (value or {}).items():
                _check_schema(sub, f"{at}.{key}.{name}")
        elif key in ("items", "contains") or (
            key == "additionalProperties" and value is not True and value is not False
        ):
            _check_schema(value, f"{at}.{key}")
        elif key in ("anyOf", "prefixItems"):
            for i, sub in enumerate(value or []):
                _check_schema(sub, f"{at}.{key}[{i}]")


def _deref(node: Any, root: dict[str, Any]) -> Any:
    """Follow local `$ref`s ("#/$defs/Name") to the schema they name."""
    for _ in range(32):  # a cycle of bare refs would never resolve
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            if part:
                target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            raise _bad_field(f"Unresolvable $ref {node['$ref']}.", "response_format.schema")
        node = target
    return node


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "null": lambda v: v is None,
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _fits(node: dict[str, Any], value: Any) -> bool:
    """Whether `value` has the type (or enum value) `node` asks for; shallow."""
    if "enum" in node:
        return value in node["enum"]
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if not kinds:
        return value is not None or "properties" not in node
    return any(_TYPE_CHECKS.get(k, lambda _v: False)(value) for k in kinds)


def conform(node: Any, root: dict[str, Any], seed: Any) -> Any:
    """A value valid against schema `node`, keeping whatever of `seed` fits it.

    This is how the emulator answers in the requested shape: the transcript it would
    have given is the seed, and a roster schema takes only the roster's fields from it.
    """
    node = _deref(node, root)
    if not isinstance(node, dict):
        return seed
    if "anyOf" in node:
        branches = [_deref(b, root) for b in node["anyOf"]]
        chosen = next((b for b in branches if _fits(b, seed)), branches[0] if branches else {})
        return conform(chosen, root, seed if _fits(chosen, seed) else None)
    if "enum" in node:
        return seed if seed in node["enum"] else node["enum"][0]
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if _TYPE_CHECKS.get(k, lambda _v: False)(seed)), kind[0])
    if kind == "object" or (kind is None and "properties" in node):
        return _conform_object(node, root, seed)
    if kind == "array":
        return _conform_array(node, root, seed)
    if kind in ("integer", "number"):
        return _conform_number(node, seed, integer=kind == "integer")
    placeholders: dict[str, Any] = {"string": "(emulated)", "boolean": False, "null": None}
    if kind in placeholders:
        return seed if _TYPE_CHECKS[kind](seed) else placeholders[kind]
    return seed


def _conform_object(node: dict[str, Any], root: dict[str, Any], seed: Any) -> dict[str, Any]:
    given = seed if isinstance(seed, dict) else {}
    required = set(node.get("required") or [])
    return {
        name: conform(sub, root, given.get(name))
        for name, sub in (node.get("properties") or {}).items()
        if name in given or name in required
    }


def _conform_array(node: dict[str, Any], root: dict[str, Any], seed: Any) -> list[Any]:
    items = node.get("items") or {}
    values = [conform(items, root, v) for v in seed] if isinstance(seed, list) else []
    while len(values) < int(node.get("minItems") or 0):
        values.append(conform(items, root, None))
    if node.get("maxItems") is not None:
        values = values[: int(node["maxItems"])]
    return values


def _conform_number(node: dict[str, Any], seed: Any, *, integer: bool) -> float | int:
    value = seed if _TYPE_CHECKS["integer" if integer else "number"](seed) else 0
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None:
        value = max(value, math.ceil(low) if integer else low)
    if high is not None:
        value = min(value, math.floor(high) if integer else high)
    return value


def _interaction_blocks(value: Any) -> list[dict[str, Any]]:
    """Content blocks of the user's input: a string, a list of blocks or a list of steps."""
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise _ApiError(400, "Invalid value at 'input'.")
    blocks: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, str):
            blocks.append({"type": "text", "text": item})
        elif not isinstance(item, dict):
            raise _ApiError(400, "Invalid value at 'input'.")
        elif item.get("type") == "user_input":
            blocks.extend(_interaction_blocks(item.get("content") or []))
        elif item.get("type") in _STEP_TYPES:
            continue  # earlier turns of a conversation; only user input is analysed
        else:
            blocks.append(item)
    return blocks


def _generate_blocks(contents: Any) -> list[dict[str, Any]]:
    """generateContent parts → interaction-style blocks (keys in either case)."""
    if isinstance(contents, dict):
        contents = [contents]
    blocks: list[dict[str, Any]] = []
    for content in contents if isinstance(contents, list) else []:
        for part in content.get("parts") or []:
            if part.get("thought"):
                continue
            if "text" in part:
                blocks.append({"type": "text", "text": part["text"]})
            elif file_data := _pick(part, "fileData", "file_data"):
                blocks.append(
                    {
                        "type": "audio",
                        "uri": _pick(file_data, "file_uri", "fileUri"),
                        "mime_type": _pick(file_data, "mime_type", "mimeType"),
                    }
                )
            elif inline := _pick(part, "inlineData", "inline_data"):
                blocks.append(
                    {
                        "type": "audio",
                        "data": inline.get("data"),
                        "mime_type": _pick(inline, "mime_type", "mimeType"),
                    }
                )
    return blocks


def _format_ts(seconds: float) -> str:
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def default_transcript(seconds: float, roster: list[str] | None = None) -> dict[str, Any]:
    """A Transcript-shaped dict with one segment every 10 s, all starting before `seconds`."""
    labels = roster or ["Speaker 1", "Speaker 2"]
    starts = [float(t) for t in range(0, max(1, math.ceil(seconds)), SEGMENT_EVERY_S)]
    starts = [t for t in starts if t < seconds] or [0.0]
    segments = [
        {
            "speaker": labels[i % len(labels)],
            "timestamp": _format_ts(t),
            "content": f"Segment {i + 1} of the recording.",
            "language": "en",
            "emotion": "neutral",
        }
        for i, t in enumerate(starts)
    ]
    used = list(dict.fromkeys(s["speaker"] for s in segments))
    return {
        "summary": f"An emulated transcript of a {_format_ts(seconds)} recording"
        f" in {len(segments)} segments.",
        "key_points": [f"The recording lasts {_format_ts(seconds)}."],
        "action_items": [],
        "languages": ["en"],
        "speakers": used,
        "segments": segments,
    }


def _roster(texts: list[str]) -> list[str] | None:
    for text in texts:
        match = _ROSTER.search(text)
        if match:
            names = [n.strip() for n in match.group(1).split(",") if n.strip()]
            if names:
                return names
    return None


def translation_seed(texts: list[str]) -> dict[str, Any] | None:
    """What a model asked to translate a transcript (text only) would answer, before the
    schema shapes it: the same segments, `content` left empty as asked, `translation`
    "[<target>] <content>" (null for segments already in the target language), and the
    summary, key points and action items given, each prefixed "[<target>] ". None when the
    request is no translation."""
    text = "\n".join(texts)
    target, body = _TRANSLATE_TARGET.search(text), _TRANSCRIPT_JSON.search(text)
    if target is None or body is None:
        return None
    try:
        given = json.loads(body.group(1))
    except ValueError:
        return None
    code = target.group(1)
    mark = f"[{code}] "
    primary = code.split("-")[0].lower()
    segments = [
        {
            "speaker": seg.get("speaker", ""),
            "timestamp": seg.get("timestamp", ""),
            "content": "",
            "language": seg.get("language", ""),
            "translation": None
            if str(seg.get("language") or "").split("-")[0].lower() == primary
            else mark + str(seg.get("content") or ""),
            "emotion": "neutral",
        }
        for seg in given.get("segments") or []
        if isinstance(seg, dict)
    ]
    return {
        "summary": mark + given["summary"] if given.get("summary") else "",
        "key_points": [mark + str(p) for p in given.get("key_points") or []],
        "action_items": [mark + str(a) for a in given.get("action_items") or []],
        "languages": [],
        "speakers": list(dict.fromkeys(s["speaker"] for s in segments)),
        "segments": segments,
    }


def _default_answer(prompt: _Prompt) -> Answer:
    seed = default_transcript(prompt.audio_seconds, _roster(prompt.texts))
    if prompt.schema is not None:
        # A constrained model answers in the requested shape, whatever it was asked; a
        # text-only request has only what it was given to work from (a translation).
        given = seed if prompt.has_audio else translation_seed(prompt.texts)
        value = conform(prompt.schema, prompt.schema, given)
        return value if isinstance(value, dict) else json.dumps(value)
    if prompt.has_audio:
        return seed
    question = " ".join(t.strip() for t in prompt.texts if t.strip())
    return f"Answer: (emulated) you asked: {question[:500]}"


def _answer_text(answer: Answer) -> str:
    if isinstance(answer, Continuation):
        return _answer_text(answer.answer)
    if isinstance(answer, Truncated):
        full = _answer_text(answer.answer)
        return full[: len(full) // 2]
    if isinstance(answer, dict):
        return json.dumps(answer, ensure_ascii=False)
    if isinstance(answer, str):
        return answer
    return ""


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _input_tokens(prompt: _Prompt) -> int:
    audio = math.ceil(prompt.audio_seconds * AUDIO_TOKENS_PER_SECOND)
    return audio + sum(_tokens(t) for t in prompt.texts)


def _generate_json(model: str, prompt: _Prompt, answer: Answer) -> dict[str, Any]:
    text = _answer_text(answer)
    audio_tokens = math.ceil(prompt.audio_seconds * AUDIO_TOKENS_PER_SECOND)
    in_tok = _input_tokens(prompt)
    out_tok = _tokens(text) if not isinstance(answer, Blocked) else 0
    details = [{"modality": "TEXT", "tokenCount": in_tok - audio_tokens}]
    if prompt.has_audio:
        details.append({"modality": "AUDIO", "tokenCount": audio_tokens})
    usage = {
        "promptTokenCount": in_tok,
        "totalTokenCount": in_tok + out_tok,
        "promptTokensDetails": details,
    }
    payload: dict[str, Any] = {"modelVersion": model, "responseId": _random_id(22)}
    if isinstance(answer, Blocked):
        payload["promptFeedback"] = {"blockReason": answer.reason}
    else:
        usage["candidatesTokenCount"] = out_tok
        payload["candidates"] = [
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": "MAX_TOKENS" if isinstance(answer, Truncated) else "STOP",
                "index": 0,
            }
        ]
    payload["usageMetadata"] = usage
    return payload
