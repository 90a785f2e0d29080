"""Redis mode end to end: several `serve` instances and workers on one real redis-server.

Web instances are `start_server(settings)` with REDIS_URL (they ack and enqueue); workers are
either in-process (`Runtime` + `RedisWorker`, as `slack-scribe worker` builds them) or real
`python -m bot worker` processes when the test kills or signals one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from bot.app import Runtime
from bot.jobs.spec import Job, transcribe_job_id
from bot.queue.base import Outcome
from bot.queue.redis import POLL_DELAY_S, QUEUE_NAME, RedisQueue
from bot.queue.redis_worker import RedisWorker
from bot.settings import Settings
from bot.store.redis import job_key
from bot.worker import build_worker
from tests.conftest import Server, make_settings, start_server, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio
from tests.processes import wait_quiescent

pytest_plugins = ["tests.redis_fixtures"]
pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "C0GENERAL"
HEALTH_KEY = QUEUE_NAME + ":health-check"  # arq writes it on a worker's first poll
LEASE_S = 2  # SCRIBE_WORKER_LEASE_S of every worker here


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    # Slack's rate limits are tested elsewhere; here 50 clips in a few seconds would only
    # measure slack_sdk's Retry-After waits.
    emu = SlackEmulator(rate_limits=False)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.close()


@pytest.fixture
def clip(tmp_path: Path) -> bytes:
    return make_audio(tmp_path / "clip.m4a", duration_s=2.0, codec="aac").read_bytes()


@pytest.fixture
def redis_settings(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, redis_url: str
) -> Settings:
    return make_settings(
        slack,
        gemini,
        tmp_path,
        redis_url=redis_url,
        scribe_worker_lease_s=LEASE_S,
        scribe_max_concurrency=2,
    )


@pytest.fixture
async def servers(redis_settings: Settings) -> AsyncIterator[list[Server]]:
    started = [await start_server(redis_settings) for _ in range(2)]
    try:
        yield started
    finally:
        for srv in started:
            await srv.runner.cleanup()


@dataclass
class InProcessWorker:
    runtime: Runtime
    worker: RedisWorker
    jobs: list[str]


@pytest.fixture
async def start_worker(
    redis_settings: Settings,
) -> AsyncIterator[Callable[[], Awaitable[InProcessWorker]]]:
    started: list[InProcessWorker] = []

    async def start() -> InProcessWorker:
        runtime = await Runtime.create(redis_settings)
        assert isinstance(runtime.queue, RedisQueue)
        jobs: list[str] = []

        async def handler(job: Job, attempt: int) -> Outcome:
            jobs.append(job.id)  # which worker ran what; the work is the real pipeline's
            return await runtime.pipeline(job, attempt)

        w = InProcessWorker(runtime, build_worker(redis_settings, runtime.queue, handler), jobs)
        started.append(w)
        await w.worker.start()
        return w

    yield start
    for w in started:
        await w.worker.stop(grace_s=5)
        await w.runtime.close()


class WorkerProcess:
    """`python -m bot worker` as a child process."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        # The log goes to a file: a pipe nobody reads would block the worker once full.
        self.log_path = cwd / f"worker-{id(self)}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def worker_env(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, redis_url: str
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),  # the code under test, wherever this checkout is
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_API_URL": slack.api_url,
        "GEMINI_API_KEY": gemini.api_key,
        "GEMINI_BASE_URL": gemini.base_url,
        "REDIS_URL": redis_url,
        "SCRIBE_GEMINI_INITIAL_DELAY_S": "0.01",
        "SCRIBE_WORKER_LEASE_S": str(LEASE_S),
        "SCRIBE_MAX_CONCURRENCY": "1",
    }


@pytest.fixture
def worker_processes() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for p in started:
        p.stop()


async def spawn_worker(
    env: dict[str, str], cwd: Path, started: list[WorkerProcess], redis_url: str
) -> WorkerProcess:
    """Start a worker process; return once it has polled the queue (arq's health key)."""
    redis = Redis.from_url(redis_url)
    try:
        await redis.delete(HEALTH_KEY)
        p = WorkerProcess(env, cwd)
        started.append(p)
        deadline = time.monotonic() + 30
        while not await redis.exists(HEALTH_KEY):
            if p.proc.poll() is not None:
                raise AssertionError(p.log_path.read_text(errors="replace"))
            assert time.monotonic() < deadline, "the worker did not start polling"
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    return p


async def wait_for_key(redis: Redis, key: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await redis.exists(key):
        assert time.monotonic() < deadline, f"{key} was not written"
        await asyncio.sleep(0.02)


# -- acceptance 1 ---------------------------------------------------------------------------


async def test_fifty_clips_over_two_instances_and_two_workers_get_one_reply_each(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    servers: list[Server],
    start_worker: Callable[[], Awaitable[InProcessWorker]],
    clip: bytes,
) -> None:
    workers = [await start_worker(), await start_worker()]
    channels = [f"C0SCALE{i}" for i in range(5)]
    for c in channels:
        slack.add_channel(c)
    clips = []
    for i in range(50):
        channel = channels[i % len(channels)]
        file = slack.add_file(clip, name=f"clip-{i}.m4a")
        clips.append((channel, file, slack.post_user_message(channel, files=[file])))

    async def deliver(i: int, channel: str, file: dict, event: dict) -> list[int]:
        a, b = servers[i % 2], servers[(i + 1) % 2]
        first = await slack.send_event(a.events_url, event)
        sends = [
            first,
            await slack.send_event(b.events_url, slack.file_shared_event(file, channel=channel)),
        ]
        if i % 3 == 0:  # Slack retries the delivery, to the other instance
            sends.append(
                await slack.send_event(b.events_url, event, event_id=first.event_id, retry_num=1)
            )
        if i % 5 == 0:  # the same message again under a new event id (a redelivery)
            sends.append(await slack.send_event(a.events_url, event))
        assert all(s.elapsed_s < 3.0 for s in sends), [s.elapsed_s for s in sends]
        return [s.status for s in sends]

    statuses = await asyncio.gather(*(deliver(i, *c) for i, c in enumerate(clips)))
    assert {s for group in statuses for s in group} == {200}

    # Nothing queued or running on any worker: every reply that will ever come is here.
    await wait_quiescent(servers[0].url, timeout=60)
    for channel, _, event in clips:
        replies = slack.bot_replies(channel, event["ts"])
        assert len(replies) == 1, (channel, event["ts"], replies)
        assert not replies[0]["text"].startswith(":warning:")
    assert len(gemini.interaction_requests) == 50
    ran = workers[0].jobs + workers[1].jobs
    assert sorted(ran) == sorted(transcribe_job_id(c, f["id"]) for c, f, _ in clips)
    assert workers[0].jobs and workers[1].jobs, "one worker did all the work"


# -- acceptance 2 ---------------------------------------------------------------------------


async def test_worker_killed_mid_job_is_finished_by_the_other_and_answered_once(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    servers: list[Server],
    start_worker: Callable[[], Awaitable[InProcessWorker]],
    worker_env: dict[str, str],
    worker_processes: list[WorkerProcess],
    redis_url: str,
    tmp_path: Path,
    clip: bytes,
) -> None:
    doomed = await spawn_worker(worker_env, tmp_path, worker_processes, redis_url)
    gemini.latency_s = 30  # Gemini is "thinking" when the worker dies
    file = slack.add_file(clip)
    event = slack.post_user_message(CHANNEL, files=[file])
    assert (await slack.send_event(servers[0].events_url, event)).status == 200
    await wait_for(lambda: gemini.in_flight_interactions >= 1, timeout=30)
    job_id = transcribe_job_id(CHANNEL, file["id"])
    store = servers[1].runtime.store
    record = await store.get_job(job_id)
    assert record is not None and (record.state, record.attempts) == ("running", 1)

    redis = Redis.from_url(redis_url)
    try:
        # doomed claimed the job before it marked it running (`updated_at`, wall clock), with
        # a lease of LEASE_S: a lease nobody renews lapses by then + LEASE_S, and the next
        # poll of any worker takes the job.
        began = float(await redis.hget(job_key(job_id), "updated_at"))
        await redis.delete(HEALTH_KEY)
        other = await start_worker()
        await wait_for_key(redis, HEALTH_KEY)  # other polls the queue from now on
        # Watch past the lapse and two of other's polls: the lease must hold all along.
        lease_key = in_progress_key_prefix + job_id
        while time.time() < began + LEASE_S + 2 * POLL_DELAY_S + 0.1:
            assert await redis.pttl(lease_key) > 0, "the lease lapsed while doomed was alive"
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    assert other.jobs == []  # a live worker's job is left alone
    record = await store.get_job(job_id)
    assert record is not None and (record.state, record.attempts) == ("running", 1)
    doomed.proc.send_signal(signal.SIGKILL)
    doomed.proc.wait(timeout=10)
    killed_at = time.monotonic()
    gemini.latency_s = 0

    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=30)
    took = time.monotonic() - killed_at
    await wait_quiescent(servers[0].url)
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1
    assert not replies[0]["text"].startswith(":warning:")
    assert other.jobs == [job_id]
    record = await store.get_job(job_id)
    assert record is not None
    assert (record.state, record.attempts, record.reply_ts) == ("done", 2, replies[0]["ts"])
    assert took < 2 + 5  # the lease (2 s) plus a poll and the work, not arq's job timeout


# -- graceful stop --------------------------------------------------------------------------


async def test_sigterm_finishes_the_running_job_and_leaves_the_queue_to_others(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    servers: list[Server],
    start_worker: Callable[[], Awaitable[InProcessWorker]],
    worker_env: dict[str, str],
    worker_processes: list[WorkerProcess],
    redis_url: str,
    tmp_path: Path,
    clip: bytes,
) -> None:
    env = worker_env | {"SCRIBE_SHUTDOWN_GRACE_S": "20"}
    p = await spawn_worker(env, tmp_path, worker_processes, redis_url)
    gemini.latency_s = 1
    events = []
    for _ in range(2):
        file = slack.add_file(clip)
        events.append(slack.post_user_message(CHANNEL, files=[file]))
        assert (await slack.send_event(servers[0].events_url, events[-1])).status == 200
    await wait_for(lambda: gemini.in_flight_interactions >= 1, timeout=30)
    assert slack.bot_replies(CHANNEL, events[0]["ts"]) == []  # still running at the SIGTERM
    p.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(p.proc.wait, 20) == 0
    # The running job was finished; the waiting one was not taken.
    assert len(slack.bot_replies(CHANNEL, events[0]["ts"])) == 1
    assert slack.bot_replies(CHANNEL, events[1]["ts"]) == []
    queue = servers[0].runtime.queue
    assert (await queue.depth(), await queue.in_flight()) == (1, 0)

    gemini.latency_s = 0
    await start_worker()
    await wait_quiescent(servers[0].url)
    assert [len(slack.bot_replies(CHANNEL, e["ts"])) for e in events] == [1, 1]


async def test_sigterm_past_the_grace_period_hands_the_job_to_another_worker(
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    servers: list[Server],
    start_worker: Callable[[], Awaitable[InProcessWorker]],
    worker_env: dict[str, str],
    worker_processes: list[WorkerProcess],
    redis_url: str,
    tmp_path: Path,
    clip: bytes,
) -> None:
    p = await spawn_worker(
        worker_env | {"SCRIBE_SHUTDOWN_GRACE_S": "0.2"}, tmp_path, worker_processes, redis_url
    )
    gemini.latency_s = 30
    file = slack.add_file(clip)
    event = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(servers[0].events_url, event)
    await wait_for(lambda: gemini.in_flight_interactions >= 1, timeout=30)
    p.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(p.proc.wait, 15) == 0
    job_id = transcribe_job_id(CHANNEL, file["id"])
    record = await servers[0].runtime.store.get_job(job_id)
    assert record is not None and (record.state, record.attempts) == ("queued", 1)
    # Handed back at once: no lease left for another worker to wait out.
    redis = Redis.from_url(redis_url)
    try:
        assert await redis.exists(in_progress_key_prefix + job_id) == 0
    finally:
        await redis.aclose()

    gemini.latency_s = 0
    started = time.monotonic()
    await start_worker()
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=30)
    assert time.monotonic() - started < LEASE_S
    await wait_quiescent(servers[0].url)
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1 and not replies[0]["text"].startswith(":warning:")


# -- acceptance 3 ---------------------------------------------------------------------------


async def test_channel_settings_changed_on_one_instance_apply_on_the_other(
    slack: SlackEmulator, servers: list[Server], clip: bytes
) -> None:
    a, b = servers
    # Settings are admins' to change (tests/test_admin_settings.py): Alice is one here.
    slack.add_user(
        "U0ALICE", name="alice", real_name="Alice Liddell", display_name="alice", is_admin=True
    )
    sent = await slack.send_slash_command(a.events_url, text="auto off", channel=CHANNEL)
    assert sent.status == 200 and "off" in sent.body

    file = slack.add_file(clip)
    event = slack.post_user_message(CHANNEL, files=[file])
    assert (await slack.send_event(b.events_url, event)).status == 200
    assert await b.runtime.store.get_job(transcribe_job_id(CHANNEL, file["id"])) is None
    assert await b.runtime.queue.depth() == 0

    sent = await slack.send_slash_command(b.events_url, text="language de", channel=CHANNEL)
    assert sent.status == 200
    help_a = await slack.send_slash_command(a.events_url, text="help", channel=CHANNEL)
    assert "*off*" in help_a.body and "*de*" in help_a.body

    await slack.send_slash_command(b.events_url, text="auto on", channel=CHANNEL)
    file = slack.add_file(clip)
    event = slack.post_user_message(CHANNEL, files=[file])
    assert (await slack.send_event(a.events_url, event)).status == 200
    assert await a.runtime.store.get_job(transcribe_job_id(CHANNEL, file["id"])) is not None
