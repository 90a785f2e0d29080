"""Logging: one line per event, text or JSON, with job context and secrets scrubbed.

Job context (job_id, channel, file_id) is set once per job with `job_context()`
and lands on every line logged while the job runs, from any module or task; the
JSON format puts the fields in their own keys for log pipelines. A filter
replaces any configured secret (and anything shaped like a Slack token) before a
line is written, as a last line of defence: code should not log secrets at all.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

_TOKEN_SHAPES = re.compile(r"xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
_CONTEXT_FIELDS = ("job_id", "channel", "file_id")

#: Libraries that log request and response bodies (transcripts, prompts) at DEBUG stay at
#: INFO or above whatever SCRIBE_LOG_LEVEL says; HTTP clients that log every request at INFO
#: (the genai SDK vendors httpx as httpx2) stay at WARNING.
_LIBRARY_FLOORS = {
    "slack_sdk": logging.INFO,
    "slack_bolt": logging.INFO,
    "google_genai": logging.INFO,
    "google.genai": logging.INFO,
    "aiohttp.client": logging.INFO,
    "aiosqlite": logging.INFO,
    "arq": logging.INFO,
    "asyncio": logging.INFO,
    "httpx": logging.WARNING,
    "httpx2": logging.WARNING,
    "httpcore": logging.WARNING,
    "httpcore2": logging.WARNING,
}

_job: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "scribe_job_context", default=None
)


@contextlib.contextmanager
def job_context(job_id: str, channel: str, file_id: str | None) -> Iterator[None]:
    """Every line logged inside (in this task and tasks it starts) carries the job's ids."""
    fields = {"job_id": job_id, "channel": channel}
    if file_id:
        fields["file_id"] = file_id
    token = _job.set(fields)
    try:
        yield
    finally:
        _job.reset(token)


class AddJobContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_job.get() or {}).items():
            if not getattr(record, name, None):
                setattr(record, name, value)
        return True


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 6]

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return _TOKEN_SHAPES.sub("[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = self._scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self._scrub(record.stack_info)
        if scrubbed != message or record.args:
            record.msg, record.args = scrubbed, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value:
                data[name] = value
        if record.exc_info or record.exc_text:
            data["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}"
            for name in _CONTEXT_FIELDS
            if getattr(record, name, None)
        )
        return f"{line} [{context}]" if context else line


def build_handler(fmt: str, secrets: Iterable[str] = ()) -> logging.Handler:
    """A stderr handler with the job context, the redaction filter and the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(AddJobContext())
    handler.addFilter(RedactSecrets(secrets))
    return handler


def setup_logging(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    root = logging.getLogger()
    root.handlers[:] = [build_handler(fmt, secrets)]
    root.setLevel(level.upper())
    for name, floor in _LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(root.level, floor))
