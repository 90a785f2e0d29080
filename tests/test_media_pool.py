"""Media work runs in worker processes (bot/media/pool.py), sized by SCRIBE_MEDIA_WORKERS.

A worker that dies mid-transcode fails that job with one `:warning:`; the bot keeps serving;
the job's files are gone. A cancelled job (its budget) stops the work in the worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.conftest import make_settings, settle, start_server, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio

CHANNEL = "C0GENERAL"
ROOT = Path(__file__).resolve().parent.parent


def long_wav(tmp_path: Path) -> bytes:
    """Ten minutes of PCM: transcoding it takes a worker about two seconds."""
    return make_audio(tmp_path / "long.wav", duration_s=600, sample_rate=16000).read_bytes()


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


async def test_a_media_worker_killed_mid_transcode_fails_that_job_only(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    settings = make_settings(
        slack, gemini, tmp_path, scribe_tmp_dir=str(work), scribe_media_workers=1
    )
    server = await start_server(settings)
    try:
        file = slack.add_file(
            long_wav(tmp_path), name="long.wav", mimetype="audio/wav", filetype="wav"
        )
        message = slack.post_user_message(CHANNEL, files=[file])
        await slack.send_event(server.events_url, message)
        # The transcode has begun writing its output: kill the process doing it.
        await wait_for(lambda: list(work.glob("*/*.prepared.*")), timeout=30, interval=0.01)
        pids = server.runtime.media.worker_pids()
        assert pids, "no media worker process"
        assert os.getpid() not in pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        await wait_for(lambda: slack.bot_replies(CHANNEL, message["ts"]), timeout=30)
        await settle(server)
        replies = slack.bot_replies(CHANNEL, message["ts"])
        assert len(replies) == 1
        assert replies[0]["text"].startswith(":warning:"), replies[0]["text"]
        assert "crashed" in replies[0]["text"], replies[0]["text"]
        assert gemini.interaction_requests == []
        assert list(work.iterdir()) == []

        # The bot keeps serving: the next clip is prepared in a new worker and answered.
        second = slack.add_file(voice_clip.read_bytes(), name="voice.m4a")
        message2 = slack.post_user_message(CHANNEL, files=[second])
        await slack.send_event(server.events_url, message2)
        await wait_for(lambda: slack.bot_replies(CHANNEL, message2["ts"]), timeout=30)
        await settle(server)
        replies2 = slack.bot_replies(CHANNEL, message2["ts"])
        assert not replies2[0]["text"].startswith(":warning:"), replies2[0]["text"]
        assert len(gemini.interaction_requests) == 1
        assert set(server.runtime.media.worker_pids()).isdisjoint(pids)
        assert list(work.iterdir()) == []
    finally:
        await server.runner.cleanup()


async def test_a_job_over_its_budget_stops_the_transcode_and_removes_its_files(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    settings = make_settings(
        slack,
        gemini,
        tmp_path,
        scribe_tmp_dir=str(work),
        scribe_media_workers=1,
        scribe_job_budget_s=1.5,
    )
    server = await start_server(settings)
    try:
        file = slack.add_file(
            long_wav(tmp_path), name="long.wav", mimetype="audio/wav", filetype="wav"
        )
        message = slack.post_user_message(CHANNEL, files=[file])
        await slack.send_event(server.events_url, message)
        await wait_for(lambda: list(work.glob("*/*.prepared.*")), timeout=30, interval=0.01)
        pids = server.runtime.media.worker_pids()
        reply = (await wait_for(lambda: slack.bot_replies(CHANNEL, message["ts"]), timeout=30))[0]
        await settle(server)
        assert reply["text"].startswith(":warning:")
        assert "longer than" in reply["text"], reply["text"]
        # The worker was stopped, not left transcoding for nobody.
        await wait_for(lambda: not any(alive(p) for p in pids), timeout=5)
        assert list(work.iterdir()) == []
    finally:
        await server.runner.cleanup()


def test_scribe_media_workers_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings(_env_file=None).scribe_media_workers == (os.cpu_count() or 1)  # type: ignore[call-arg]
    monkeypatch.setenv("SCRIBE_MEDIA_WORKERS", "3")
    assert Settings(_env_file=None).scribe_media_workers == 3  # type: ignore[call-arg]


@pytest.mark.parametrize("workers", [1, 2])
async def test_the_pool_runs_at_most_scribe_media_workers_processes(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, workers: int
) -> None:
    settings = make_settings(slack, gemini, tmp_path, scribe_media_workers=workers)
    server = await start_server(settings)
    try:
        pool = server.runtime.media
        assert pool.size == workers
        started = time.monotonic()
        # time.sleep and os.getpid are builtins: they pickle by name into the workers.
        await asyncio.gather(*(pool.run(time.sleep, 0.4) for _ in range(4)))
        elapsed = time.monotonic() - started
        pids = set(await asyncio.gather(*(pool.run(os.getpid) for _ in range(8))))
        assert len(pids) == workers
        assert os.getpid() not in pids
        # 4 tasks of 0.4 s on `workers` processes: 4 / workers rounds.
        assert elapsed >= 0.4 * 4 / workers - 0.05
        assert elapsed < 0.4 * 4 / workers + 2.0  # generous: a busy CI machine spawns slowly
        assert sorted(pool.worker_pids()) == sorted(pids)
    finally:
        await server.runner.cleanup()


def test_media_workers_exit_when_the_serving_process_is_killed(tmp_path: Path) -> None:
    """kill -9 of the process that owns the pool leaves no media process behind."""
    script = (
        "import asyncio, json, os, signal\n"
        "from bot.media.pool import MediaPool\n"
        "async def main():\n"
        "    pool = MediaPool(2)\n"
        "    await pool.start()\n"
        "    print(json.dumps(pool.worker_pids()), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    path = tmp_path / "owner.py"
    path.write_text(script)
    # Output to a file: an orphaned worker would hold a pipe open.
    with (tmp_path / "out").open("w") as out:
        done = subprocess.run(
            [sys.executable, str(path)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == -signal.SIGKILL, done.stderr
    pids = json.loads((tmp_path / "out").read_text())
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, f"media workers {pids} outlived their owner"
        time.sleep(0.1)
