"""Logs of a real `serve` process: JSON lines, job context on job lines, no secrets, no transcript."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from tests.conftest import wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.processes import app_env, free_port, wait_healthy

CHANNEL = "C0GENERAL"
SECRET_SPEECH = "the vault code is pineapple forty two"
ANSWER = {
    "summary": "Confidential: a vault code was read out loud.",
    "segments": [
        {"speaker": "Speaker 1", "timestamp": "00:00", "content": SECRET_SPEECH},
        {"speaker": "Speaker 2", "timestamp": "00:05", "content": "Do not write that down."},
    ],
}


async def test_json_logs_of_real_jobs_have_context_and_no_secrets(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = app_env(
        slack,
        gemini,
        tmp_path,
        SCRIBE_LOG_FORMAT="json",
        SCRIBE_LOG_LEVEL="DEBUG",  # the most a deployment could log
        SCRIBE_GEMINI_ATTEMPTS="2",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port),
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await wait_healthy(url, lambda: proc.returncode is not None)
        # One job that succeeds, one that fails at Gemini (its error lines are logged too).
        gemini.script(ANSWER)
        ok_file = slack.add_file(voice_clip.read_bytes(), name="vault.m4a", mimetype="audio/mp4")
        ok_event = slack.post_user_message(CHANNEL, files=[ok_file])
        await slack.send_event(url + "/slack/events", ok_event)
        await wait_for(lambda: slack.bot_replies(CHANNEL, ok_event["ts"]), timeout=30)

        gemini.fail_next(2, 500, path_contains="interactions")
        bad_file = slack.add_file(voice_clip.read_bytes(), name="again.m4a", mimetype="audio/mp4")
        bad_event = slack.post_user_message(CHANNEL, files=[bad_file])
        await slack.send_event(url + "/slack/events", bad_event)
        failed = await wait_for(lambda: slack.bot_replies(CHANNEL, bad_event["ts"]), timeout=30)
        assert failed[0]["text"].startswith(":warning:")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    log = err.decode()

    # The transcript really was posted, and really was not logged.
    assert SECRET_SPEECH in json.dumps(slack.bot_replies(CHANNEL, ok_event["ts"]))
    for secret in (
        slack.bot_token,
        slack.app_token,
        slack.signing_secret,
        gemini.api_key,
        SECRET_SPEECH,
        "pineapple",
        ANSWER["summary"],
        "Do not write that down",
    ):
        assert secret not in log, f"{secret!r} appears in the logs"

    lines = [json.loads(line) for line in log.splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    jobs = {ok_file["id"]: "done", bad_file["id"]: "failed"}
    for file_id, outcome in jobs.items():
        mine = [line for line in lines if line.get("file_id") == file_id]
        messages = [line["message"] for line in mine]
        assert any(m.startswith("job started") for m in messages), messages
        assert any(m.startswith(f"job {outcome} in ") for m in messages), messages
        assert {line["channel"] for line in mine} == {CHANNEL}
        assert len({line["job_id"] for line in mine}) == 1
    # Lines from inside a job, whichever module wrote them, carry the job's ids.
    gemini_errors = [line for line in lines if "Gemini answered HTTP 500" in line["message"]]
    assert gemini_errors
    assert all(line.get("file_id") == bad_file["id"] for line in gemini_errors)
    job_lines = [line for line in lines if line["message"].startswith("job ")]
    assert all({"job_id", "channel", "file_id"} <= line.keys() for line in job_lines)
