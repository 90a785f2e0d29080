"""Shared fixtures: the Slack and Gemini emulators, settings pointing at them, a live server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.app import Runtime
from bot.jobs.transcriber import Transcriber
from bot.settings import Settings
from bot.store.sqlite_db import SqliteDatabase
from bot.web import build_web_app
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's environment or .env file."""
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "GEMINI_API_KEY",
        "GEMINI_BASE_URL",
        "GEMINI_MODEL",
        "REDIS_URL",
        "SCRIBE_DB",
        "GOOGLE_API_KEY",
        "GOOGLE_GEMINI_BASE_URL",
        "PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.close()


@pytest.fixture
async def gemini() -> AsyncIterator[GeminiEmulator]:
    emu = GeminiEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.close()


def make_settings(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": slack.signing_secret,
        "slack_app_token": slack.app_token,
        "slack_api_url": slack.api_url,
        "gemini_api_key": gemini.api_key,
        "gemini_base_url": gemini.base_url,
        "scribe_db": str(tmp_path / "scribe.db"),
        "scribe_gemini_attempts": 3,
        "scribe_gemini_initial_delay_s": 0.01,
        "scribe_gemini_timeout_s": 20,
        "scribe_shutdown_grace_s": 5,
        # Most tests look at how a failure ends; tests/test_retries.py opens the window.
        "scribe_retry_window_s": 0,
        "scribe_status_interval_s": 0.05,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path) -> Settings:
    return make_settings(slack, gemini, tmp_path)


@dataclass
class Server:
    url: str
    events_url: str
    runtime: Runtime
    runner: web.AppRunner


async def start_server(settings: Settings, *, transcriber: Transcriber | None = None) -> Server:
    """A live HTTP server on the runtime `settings` build (`transcriber` replaces Gemini)."""
    runtime = await Runtime.create(settings, transcriber=transcriber)
    runner = web.AppRunner(build_web_app(runtime), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    return Server(url=url, events_url=url + "/slack/events", runtime=runtime, runner=runner)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    srv = await start_server(settings)
    try:
        yield srv
    finally:
        await srv.runner.cleanup()


async def wait_for(
    predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll until predicate() is truthy; fail the test with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


async def settle(server: Server, timeout: float = 15.0) -> None:
    """Wait until the queue is empty and nothing runs."""
    queue = server.runtime.queue

    async def idle() -> bool:
        return await queue.depth() == 0 and await queue.in_flight() == 0

    deadline = time.monotonic() + timeout
    while not await idle():
        if time.monotonic() > deadline:
            raise AssertionError("jobs did not finish in time")
        await asyncio.sleep(0.05)


#: The journal file of the `db` fixture (tests open it beside the app, as another process).
JOURNAL = "journal.db"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    """The embedded journal on a real SQLite file, closed after the test."""
    database = await SqliteDatabase.open(tmp_path / JOURNAL)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def voice_clip(tmp_path: Path) -> Path:
    return make_audio(tmp_path / "voice.m4a", duration_s=12.0, codec="aac")
