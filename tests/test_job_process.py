"""Embedded `serve` runs its jobs in a child process: the serving process only acks.

A real `slack-scribe serve` against the emulators: the job process does the work (and
loads what it needs, the serving process does not), is started again when it dies (no
acknowledged job lost; /healthz says so meanwhile), and never outlives `serve`.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp

from tests.conftest import wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.processes import wait_quiescent
from tests.test_restart import CHANNEL, ServeProcess, env, processes, start

__all__ = ["env", "processes"]  # fixtures, used by name


def children(pid: int) -> list[int]:
    """The direct children of `pid` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text()
        found += [int(c) for c in text.split()]
    return found


def descendants(pid: int) -> list[int]:
    found = children(pid)
    for child in list(found):
        found += descendants(child)
    return found


def job_process_of(serve: ServeProcess) -> int:
    for child in children(serve.proc.pid):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"bot.jobrunner" in cmdline:
            return child
    raise AssertionError("no job process under serve")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; it only waits for its parent to reap it


def loaded(pid: int, needle: str) -> bool:
    return needle in Path(f"/proc/{pid}/maps").read_text()


async def health(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(url + "/healthz") as resp:
        return resp.status


async def share(slack: SlackEmulator, serve: ServeProcess, clip: Path) -> dict:
    file = slack.add_file(clip.read_bytes())
    event = slack.post_user_message(CHANNEL, files=[file])
    assert (await slack.send_event(serve.url + "/slack/events", event)).status == 200
    return event


async def test_the_job_process_does_the_work_and_the_serving_process_stays_lean(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    env: dict[str, str],
    processes: list[ServeProcess],
    tmp_path: Path,
    voice_clip: Path,
) -> None:
    serve = await start(env, tmp_path, processes)
    event = await share(slack, serve, voice_clip)
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=30)
    await wait_quiescent(serve.url)
    assert slack.bot_replies(CHANNEL, event["ts"])[0]["blocks"][0]["type"] == "header"
    jobs = job_process_of(serve)
    # Media work happened in the job process's media workers (PyAV's and numpy's native
    # libraries are mapped there; the workers are forked from a forkserver under it); the
    # serving process has loaded neither.
    assert any(loaded(p, "/av/") and loaded(p, "/numpy") for p in descendants(jobs))
    assert not loaded(serve.proc.pid, "/av/")
    assert not loaded(serve.proc.pid, "/numpy")


async def test_a_dead_job_process_is_started_again_and_loses_nothing(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    env: dict[str, str],
    processes: list[ServeProcess],
    tmp_path: Path,
    voice_clip: Path,
) -> None:
    serve = await start(env, tmp_path, processes)
    first = job_process_of(serve)
    os.kill(first, signal.SIGKILL)
    await wait_for(lambda: not alive(first), timeout=10)
    # Slack still gets its acks, and the job waits in the journal for the new process.
    event = await share(slack, serve, voice_clip)
    statuses = []
    for _ in range(10):
        statuses.append(await health(serve.url))
        await asyncio.sleep(0.05)
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=30)
    await wait_quiescent(serve.url)
    assert 503 in statuses  # /healthz said the job process was down
    assert job_process_of(serve) != first
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1 and replies[0]["blocks"][0]["type"] == "header"


async def test_the_job_process_ends_with_serve_however_serve_ends(
    env: dict[str, str],
    processes: list[ServeProcess],
    tmp_path: Path,
) -> None:
    killed = await start(env, tmp_path, processes)
    orphan = job_process_of(killed)
    killed.proc.kill()  # kill -9: no chance to stop its child
    await wait_for(lambda: not alive(orphan), timeout=10)

    stopped = await start(env, tmp_path, processes)
    child = job_process_of(stopped)
    stopped.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(stopped.proc.wait, 30) == 0
    await wait_for(lambda: not alive(child), timeout=10)


async def test_a_group_sigterm_stops_both_and_starts_no_new_job_process(
    env: dict[str, str],
    processes: list[ServeProcess],
    tmp_path: Path,
) -> None:
    serve = await start(env, tmp_path, processes)
    child = job_process_of(serve)
    # As Heroku or Ctrl-C do: every process of the group gets the signal, the child first.
    os.kill(child, signal.SIGTERM)
    await asyncio.sleep(0.3)  # it is idle: it exits at once, before serve hears of it
    serve.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(serve.proc.wait, 30) == 0
    log = (tmp_path / f"serve-{serve.port}.log").read_text()
    assert (
        "starting it again" not in log
        or "started the job process" not in log.split("starting it again")[-1]
    )
