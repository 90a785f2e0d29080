"""Scale-out benchmark: one burst of clips against 1 worker, then the same against 2 workers.

Method
------
- A real `redis-server` on a free loopback port (no persistence), the Slack and Gemini
  emulators (tests/emulators) in this process, Gemini answering after GEMINI_LATENCY_S
  (2 s by default: the worker's time goes to waiting for Gemini, as in production).
- Two `slack-scribe serve` child processes with REDIS_URL (they ack and enqueue) and, per
  round, 1 or 2 `slack-scribe worker` child processes (`python -m bot worker`), each with
  SCRIBE_MAX_CONCURRENCY=1 (so the ratio measures workers, not in-process concurrency).
  Workers are started and polling (arq's health key) before the burst.
- A round: N clips (one 3-second AAC clip made with PyAV, registered N times as different
  files over 10 channels) are announced at once: each clip's `message`/`file_share` event
  to one instance and its `file_shared` event to the other, and every 5th message event is
  retried (`X-Slack-Retry-Num: 1`) to the other instance.
- Throughput = N / (time from the first event sent to the last clip's reply).
  Ack latency = time from sending a signed request to its HTTP answer, measured here.
  Duplicates = replies beyond one per thread (counted 1 s after the last reply); lost =
  clips without a reply by the deadline; Gemini calls should equal N.

Usage: python bench/scale.py [--clips N] [--latency S] [--concurrency K]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.emulators.gemini import GeminiEmulator  # noqa: E402
from tests.emulators.slack import SlackEmulator  # noqa: E402
from tests.media_factory import make_audio  # noqa: E402
from tests.processes import free_port, wait_healthy  # noqa: E402
from tests.redis_fixtures import RedisServer  # noqa: E402

CHANNELS = 10
HEALTH_KEY = "scribe:queue:health-check"  # arq writes it on a worker's first poll


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _start_workers(n: int, env: dict[str, str], cwd: Path, url: str) -> list[Any]:
    client = redis.Redis.from_url(url)
    procs = []
    try:
        for _ in range(n):
            client.delete(HEALTH_KEY)
            proc = subprocess.Popen([sys.executable, "-m", "bot", "worker"], env=env, cwd=cwd)
            procs.append(proc)
            deadline = time.monotonic() + 60
            while not client.exists(HEALTH_KEY):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("slack-scribe worker did not start")
                await asyncio.sleep(0.05)
    finally:
        client.close()
    return procs


def _stop(procs: list[Any]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def _round(
    workers: int,
    n: int,
    slack: SlackEmulator,
    gemini: GeminiEmulator,
    urls: list[str],
    env: dict[str, str],
    work: Path,
    clip: bytes,
    redis_url: str,
) -> dict[str, float]:
    procs = await _start_workers(workers, env, work, redis_url)
    try:
        gemini_before = len(gemini.interaction_requests)
        channels = [f"C0S{workers}{i:03d}" for i in range(CHANNELS)]
        for c in channels:
            slack.add_channel(c)
        clips = []
        for i in range(n):
            channel = channels[i % CHANNELS]
            f = slack.add_file(clip, name=f"clip-{workers}-{i}.m4a")
            clips.append((channel, f, slack.post_user_message(channel, files=[f])))
        latencies: list[float] = []
        statuses: list[int] = []

        async def announce(i: int, channel: str, f: dict[str, Any], event: dict[str, Any]) -> None:
            a, b = urls[i % 2] + "/slack/events", urls[(i + 1) % 2] + "/slack/events"
            first = await slack.send_event(a, event)
            sent = [first, await slack.send_event(b, slack.file_shared_event(f, channel=channel))]
            if i % 5 == 0:
                sent.append(await slack.send_event(b, event, event_id=first.event_id, retry_num=1))
            latencies.extend(s.elapsed_s for s in sent)
            statuses.extend(s.status for s in sent)

        started = time.perf_counter()
        await asyncio.gather(*(announce(i, *c) for i, c in enumerate(clips)))
        deadline = started + 60 + n * float(env["BENCH_LATENCY_S"]) * 3
        while time.perf_counter() < deadline:
            if all(slack.bot_replies(c, e["ts"]) for c, _, e in clips):
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)
        replies = [len(slack.bot_replies(c, e["ts"])) for c, _, e in clips]
        return {
            "workers": workers,
            "clips": n,
            "events_sent": len(latencies),
            "non_200": sum(1 for s in statuses if s != 200),
            "ack_p50_ms": statistics.median(latencies) * 1000,
            "ack_p99_ms": _pct(latencies, 0.99) * 1000,
            "all_replies_s": elapsed,
            "clips_per_min": n / elapsed * 60,
            "duplicates": sum(r - 1 for r in replies if r > 1),
            "lost": sum(1 for r in replies if r == 0),
            "gemini_calls": len(gemini.interaction_requests) - gemini_before,
        }
    finally:
        _stop(procs)


async def run(n: int, latency_s: float, concurrency: int) -> list[dict[str, float]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install -y redis-server)")
    work = Path(tempfile.mkdtemp(prefix="scribe-scale-"))
    server = RedisServer(binary, work)
    clip = make_audio(work / "clip.m4a", duration_s=3.0).read_bytes()
    slack = SlackEmulator(rate_limits=False)  # Slack's limits would measure Retry-After waits
    gemini = GeminiEmulator()
    await slack.start()
    await gemini.start()
    gemini.latency_s = latency_s
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "GEMINI_", "SCRIBE_"))
        },
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.api_url,
        "GEMINI_API_KEY": gemini.api_key,
        "GEMINI_BASE_URL": gemini.base_url,
        "REDIS_URL": server.url,
        "SCRIBE_MAX_CONCURRENCY": str(concurrency),
        "SCRIBE_LOG_LEVEL": "WARNING",
        "BENCH_LATENCY_S": str(latency_s),
    }
    web: list[Any] = []
    try:
        urls = []
        for _ in range(2):
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=work,
            )
            web.append(proc)
            urls.append(f"http://127.0.0.1:{port}")
            await wait_healthy(urls[-1], lambda p=proc: p.poll() is not None)
        return [
            await _round(w, n, slack, gemini, urls, env, work, clip, server.url) for w in (1, 2)
        ]
    finally:
        _stop(web)
        await slack.close()
        await gemini.close()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--latency", type=float, default=2.0, help="Gemini latency, seconds")
    parser.add_argument("--concurrency", type=int, default=1, help="jobs at a time per worker")
    args = parser.parse_args()
    one, two = asyncio.run(run(args.clips, args.latency, args.concurrency))
    width = max(len(k) for k in one)
    print(f"{'':<{width}}  {'1 worker':>10}  {'2 workers':>10}")
    for key in one:
        cells = [f"{r[key]:.1f}" if isinstance(r[key], float) else str(r[key]) for r in (one, two)]
        print(f"{key:<{width}}  {cells[0]:>10}  {cells[1]:>10}")
    print(f"throughput ratio (2 / 1 workers): {two['clips_per_min'] / one['clips_per_min']:.2f}")


if __name__ == "__main__":
    main()
