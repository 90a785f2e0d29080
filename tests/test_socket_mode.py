"""`slack-scribe socket` as a real process: same handlers as HTTP, redeliveries dedup."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.processes import app_env

CHANNEL = "C0GENERAL"


@pytest.fixture
async def socket_process(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    env = app_env(slack, gemini, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "socket"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        # Wait without blocking the loop: the emulator in this loop must answer the
        # websocket close handshake of the stopping process.
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def journal_busy(db: Path) -> int:
    """Jobs queued or running in a live process's SQLite journal (read beside it, WAL)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')"
        ).fetchone()
    return int(row[0])


async def test_clip_over_socket_mode_gets_one_reply_despite_redelivery(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    socket_process: subprocess.Popen[bytes],
    voice_clip: Path,
    tmp_path: Path,
) -> None:
    await wait_for(slack.socket_connected.is_set, timeout=30)
    file = slack.add_file(voice_clip.read_bytes())
    event = slack.post_user_message(CHANNEL, files=[file])
    ack = await slack.socket_send_event(event, event_id="Ev0SOCKET1", timeout=10)
    assert "envelope_id" in ack
    # Slack redelivers when an ack is late: same event_id, retry_attempt 1.
    await slack.socket_send_event(
        event, event_id="Ev0SOCKET1", retry_attempt=1, retry_reason="timeout", timeout=10
    )
    replies = await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=30)
    await wait_for(lambda: slack.reactions.get((CHANNEL, event["ts"])) == {"white_check_mark"})
    # Nothing queued or running in the child's journal: no second reply is on its way.
    await wait_for(lambda: journal_busy(tmp_path / "scribe.db") == 0, timeout=30)
    assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1
    assert replies[0]["blocks"][0]["type"] == "header"
    assert len(gemini.interaction_requests) == 1


async def test_slash_command_over_socket_mode_is_acked_with_help(
    slack: SlackEmulator, socket_process: subprocess.Popen[bytes]
) -> None:
    await wait_for(slack.socket_connected.is_set, timeout=30)
    ack = await slack.socket_send_slash_command(text="help", timeout=10)
    assert "/transcribe auto on|off" in str(ack.get("payload"))
