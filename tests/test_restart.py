"""A real `slack-scribe serve` process killed or stopped mid-job: the job is answered once."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.processes import app_env, free_port, wait_healthy, wait_quiescent

CHANNEL = "C0GENERAL"


class ServeProcess:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The log goes to a file: a pipe nobody reads fills up (every /healthz poll logs a
        # line) and then blocks the process on its next write.
        self.log = open(cwd / f"serve-{self.port}.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    async def ready(self) -> None:
        await wait_healthy(self.url, lambda: self.proc.poll() is not None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def env(slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path) -> dict[str, str]:
    return app_env(slack, gemini, tmp_path)


@pytest.fixture
def processes() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for p in started:
        p.stop()


async def start(env: dict[str, str], cwd: Path, processes: list[ServeProcess]) -> ServeProcess:
    p = ServeProcess(env, cwd)
    processes.append(p)
    await p.ready()
    return p


async def share_while_gemini_thinks(
    slack: SlackEmulator, gemini: GeminiEmulator, p: ServeProcess, clip: Path
) -> dict:
    """Share a clip with `p` and return once its Gemini request is in flight."""
    file = slack.add_file(clip.read_bytes())
    event = slack.post_user_message(CHANNEL, files=[file])
    sent = await slack.send_event(p.url + "/slack/events", event)
    assert sent.status == 200
    await wait_for(lambda: gemini.in_flight_interactions >= 1)
    return event


def journal_states(home: Path) -> list[str]:
    """The job states in the journal, read from the file itself (WAL lets a live process's
    journal be read too)."""
    with sqlite3.connect(home / "scribe.db") as db:
        return [row[0] for row in db.execute("SELECT state FROM jobs")]


async def test_kill_9_while_gemini_answers_then_restart_answers_once(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    env: dict[str, str],
    tmp_path: Path,
    processes: list[ServeProcess],
    voice_clip: Path,
) -> None:
    first = await start(env, tmp_path, processes)
    gemini.latency_s = 30  # Gemini is "thinking" when the process dies
    event = await share_while_gemini_thinks(slack, gemini, first, voice_clip)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)

    gemini.latency_s = 0
    second = await start(env, tmp_path, processes)
    # Nothing queued or running any more: no second reply can still be on its way.
    await wait_quiescent(second.url)
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1
    assert not replies[0]["text"].startswith(":warning:")


async def test_sigterm_lets_the_running_job_finish(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    env: dict[str, str],
    tmp_path: Path,
    processes: list[ServeProcess],
    voice_clip: Path,
) -> None:
    p = await start(env | {"SCRIBE_SHUTDOWN_GRACE_S": "20"}, tmp_path, processes)
    gemini.latency_s = 1
    event = await share_while_gemini_thinks(slack, gemini, p, voice_clip)
    assert slack.bot_replies(CHANNEL, event["ts"]) == []  # still running at the SIGTERM
    p.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(p.proc.wait, 30)
    assert code == 0
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1 and not replies[0]["text"].startswith(":warning:")
    # Recorded as finished, so the next start does not run it again.
    assert journal_states(tmp_path) == ["done"]


async def test_sigterm_past_the_grace_period_resumes_after_restart(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    env: dict[str, str],
    tmp_path: Path,
    processes: list[ServeProcess],
    voice_clip: Path,
) -> None:
    p = await start(env | {"SCRIBE_SHUTDOWN_GRACE_S": "0.2"}, tmp_path, processes)
    gemini.latency_s = 30
    event = await share_while_gemini_thinks(slack, gemini, p, voice_clip)
    p.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(p.proc.wait, 30) == 0
    assert slack.bot_replies(CHANNEL, event["ts"]) == []
    assert journal_states(tmp_path) == ["running"]  # left for the next start to resume

    gemini.latency_s = 0
    second = await start(env, tmp_path, processes)
    await wait_quiescent(second.url)
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1 and not replies[0]["text"].startswith(":warning:")
    assert journal_states(tmp_path) == ["done"]
