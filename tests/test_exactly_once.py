"""kill -9 between the parts of a multi-part reply: the next run posts only what is missing.

Real `slack-scribe` processes (serve on SQLite; serve + worker on Redis) post a transcript
that takes three thread messages. The Slack emulator holds the second `chat.postMessage`
until the process that sent it is killed, so exactly part 1 is in the thread when it dies.
A new process must find part 1 by its marker and post parts 2 and 3, each once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, start_server, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_wire import SlackApiFailure
from tests.processes import app_env, free_port, wait_healthy, wait_quiescent
from tests.test_pipeline_truth import three_part_answer

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "C0GENERAL"


class Child:
    """A `python -m bot …` process whose log goes to a file (a full pipe would block it)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log_path = cwd / f"{args[0]}-{id(self)}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            env=env | {"PYTHONPATH": str(ROOT)},
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: no clean-up, no last words
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.kill()


class HeldSecondPart:
    """Holds the 2nd chat.postMessage until released, then refuses it (its sender is dead)."""

    def __init__(self, slack: SlackEmulator) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        slack.before("chat.postMessage", self._before)

    async def _before(self, n: int) -> None:
        if n == 2:
            self.arrived.set()
            await self.release.wait()
            raise SlackApiFailure("request_timeout")  # never stored: part 2 was not posted


def assert_one_of_each_part(slack: SlackEmulator, thread_ts: str) -> None:
    replies = slack.bot_replies(CHANNEL, thread_ts)
    markers = [str(r["blocks"][0].get("block_id")) for r in replies]
    assert len(replies) == 3, [r["text"] for r in replies]
    assert len(set(markers)) == 3
    assert sorted(m.rsplit("-", 1)[1] for m in markers) == ["0", "1", "2"]
    assert "part 2 of 3" in replies[1]["text"] and "part 3 of 3" in replies[2]["text"]


async def share(slack: SlackEmulator, events_url: str, clip: Path) -> dict[str, Any]:
    file = slack.add_file(clip.read_bytes(), name="meeting.m4a")
    event = slack.post_user_message(CHANNEL, files=[file])
    sent = await slack.send_event(events_url, event)
    assert sent.status == 200
    return event


async def test_sqlite_kill_9_after_part_1_then_restart_posts_parts_2_and_3_once(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    tmp_path: Path,
    voice_clip: Path,
    children: list[Child],
) -> None:
    gemini.script(three_part_answer())
    held = HeldSecondPart(slack)
    env = app_env(slack, gemini, tmp_path)

    def serve() -> tuple[Child, str]:
        port = free_port()
        child = Child(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path)
        children.append(child)
        return child, f"http://127.0.0.1:{port}"

    first, url = serve()
    await wait_healthy(url, lambda: first.proc.poll() is not None)
    event = await share(slack, url + "/slack/events", voice_clip)
    await asyncio.wait_for(held.arrived.wait(), timeout=30)
    assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1  # part 1 only
    first.kill()
    held.release.set()

    second, url = serve()
    await wait_healthy(url, lambda: second.proc.poll() is not None)
    await wait_for(lambda: len(slack.bot_replies(CHANNEL, event["ts"])) >= 3, timeout=30)
    await wait_quiescent(url)
    assert_one_of_each_part(slack, event["ts"])
    assert len(gemini.interaction_requests) == 1  # the transcript was kept, not redone


@pytest.mark.redis
async def test_redis_kill_9_after_part_1_then_another_worker_posts_parts_2_and_3_once(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    tmp_path: Path,
    voice_clip: Path,
    redis_url: str,
    children: list[Child],
) -> None:
    lease_s = 2
    gemini.script(three_part_answer())
    held = HeldSecondPart(slack)
    env = app_env(slack, gemini, tmp_path, REDIS_URL=redis_url)
    env |= {"SCRIBE_WORKER_LEASE_S": str(lease_s), "SCRIBE_MAX_CONCURRENCY": "1"}
    web = await start_server(
        make_settings(slack, gemini, tmp_path, redis_url=redis_url, scribe_worker_lease_s=lease_s)
    )
    try:
        first = Child(["worker"], env, tmp_path)
        children.append(first)
        event = await share(slack, web.events_url, voice_clip)
        await asyncio.wait_for(held.arrived.wait(), timeout=30)
        assert len(slack.bot_replies(CHANNEL, event["ts"])) == 1
        first.kill()
        held.release.set()

        second = Child(["worker"], env, tmp_path)
        children.append(second)
        # The dead worker's lease runs out; the second worker takes the job over.
        await wait_for(
            lambda: len(slack.bot_replies(CHANNEL, event["ts"])) >= 3, timeout=10 * lease_s + 20
        )
        await wait_quiescent(web.url)
        assert_one_of_each_part(slack, event["ts"])
        assert len(gemini.interaction_requests) == 1
        assert second.proc.poll() is None, second.log_path.read_text(errors="replace")
    finally:
        await web.runner.cleanup()


pytest_plugins = ["tests.redis_fixtures"]


@pytest.mark.redis
async def test_redis_worker_that_lost_its_lease_stops_and_posts_nothing(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path, redis_url: str
) -> None:
    """A stalls past its lease; B takes the job over; A must not post when it wakes up."""
    from arq.constants import in_progress_key_prefix
    from redis.asyncio import Redis

    from bot.app import Runtime
    from bot.jobs.spec import transcribe_job_id
    from bot.queue.redis import RedisQueue, lease_key
    from bot.worker import build_worker

    lease_s = 3
    settings = make_settings(
        slack,
        gemini,
        tmp_path,
        redis_url=redis_url,
        scribe_worker_lease_s=lease_s,
        scribe_max_concurrency=1,
    )
    web = await start_server(settings)
    runtimes: list[Runtime] = []
    workers = []
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        gemini.latency_s = 2 * lease_s  # A is still waiting for Gemini when B takes over
        a = await Runtime.create(settings)
        runtimes.append(a)
        assert isinstance(a.queue, RedisQueue)
        workers.append(build_worker(settings, a.queue, a.pipeline))
        await workers[-1].start()
        event = await share(slack, web.events_url, voice_clip)
        job_id = transcribe_job_id(CHANNEL, event["files"][0]["id"])
        await wait_for(lambda: gemini.in_flight_interactions >= 1, timeout=20)

        # What a stall past the lease amounts to: A's claim lapses and its token is stale.
        await redis.set(lease_key(job_id), "stale", px=lease_s * 1000)
        await redis.delete(in_progress_key_prefix + job_id)
        b = await Runtime.create(settings)
        runtimes.append(b)
        assert isinstance(b.queue, RedisQueue)
        workers.append(build_worker(settings, b.queue, b.pipeline))
        gemini.latency_s = 0.5
        await workers[-1].start()

        await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=30)
        await wait_quiescent(web.url, timeout=30)
        # A's Gemini answer arrives after B posted: A must stay silent.
        await wait_for(lambda: gemini.in_flight_interactions == 0, timeout=20)
        await wait_quiescent(web.url, timeout=30)
        replies = slack.bot_replies(CHANNEL, event["ts"])
        assert len(replies) == 1, [r["text"] for r in replies]
        record = await web.runtime.store.get_job(job_id)
        assert record is not None and record.state == "done"
    finally:
        for worker in workers:
            await worker.stop(grace_s=5)
        for runtime in runtimes:
            await runtime.close()
        await redis.aclose()
        await web.runner.cleanup()
