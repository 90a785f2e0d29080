"""Helpers for tests and benchmarks that run `slack-scribe` as a real child process."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(
    slack: SlackEmulator, gemini: GeminiEmulator, home: Path, **extra: str
) -> dict[str, str]:
    """A child's whole environment: the emulators' credentials and URLs, nothing inherited
    but PATH, so the developer's own settings never leak into a test."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_URL": slack.api_url,
        "GEMINI_API_KEY": gemini.api_key,
        "GEMINI_BASE_URL": gemini.base_url,
        "SCRIBE_DB": str(home / "scribe.db"),
        "SCRIBE_GEMINI_INITIAL_DELAY_S": "0.01",
        # As in tests.conftest.make_settings: failures end at once unless a test opens it.
        "SCRIBE_RETRY_WINDOW_S": "0",
    }
    env.update(extra)
    return env


async def wait_healthy(url: str, exited: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll GET {url}/healthz until 200; fail at once if the process exited."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if exited():
                raise AssertionError("slack-scribe exited during start-up")
            try:
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("slack-scribe did not become healthy")


async def wait_quiescent(url: str, timeout: float = 30.0) -> dict[str, object]:
    """Poll GET {url}/healthz until it reports nothing queued and nothing running.

    Every job that can post to Slack is either queued or running (SQLite: a journal row in
    that state; Redis: an entry in arq's queue, which stays there until the run returns), so
    once both are 0 no reply is still on its way: what is in the thread now is final, with no
    guess at how long a late duplicate would take. Returns the last health report.
    """
    deadline = time.monotonic() + timeout
    last: dict[str, object] = {}
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(url + "/healthz") as resp:
                last = await resp.json()
                if resp.status == 200 and last["queued"] == 0 and last["running"] == 0:
                    return last
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs still queued or running after {timeout} s: {last}")
            await asyncio.sleep(0.05)
