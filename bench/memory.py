"""Idle memory of each process role, measured from outside (VmRSS in /proc/PID/status).

Method
------
- The Slack and Gemini emulators run in this process, a real `redis-server` as a child
  (tests/redis_fixtures.py); each role runs as its own `python -m bot …` child process:
  `serve` on the embedded SQLite journal, `serve` in Redis mode (web only), and `worker`.
- A role counts as idle once it answers `/healthz` with 200 (serve) or has written arq's
  health-check key (worker); it is then left alone for SETTLE_S and its VmRSS read.
- Then one 12-second clip is transcribed through the role that runs jobs (serve on SQLite;
  in Redis mode the web instance enqueues and the worker runs it) and VmRSS read again.
- Embedded `serve` runs its jobs in a job process of its own (`bot.jobrunner`): its VmRSS
  is read separately. Media work runs in processes below the role that runs jobs
  (bot/media/pool.py: a forkserver and its workers): their total PSS (shared pages
  counted once) and their number are read too.
- `--compare DIR` runs the same roles from another checkout (e.g. a `git worktree` of an
  older commit) in the same run, alternating, so the two trees are measured side by side.
  Each figure is the median of ROUNDS fresh processes.

Usage: python bench/memory.py [--compare DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis.asyncio import Redis  # noqa: E402

from tests.emulators.gemini import GeminiEmulator  # noqa: E402
from tests.emulators.slack import SlackEmulator  # noqa: E402
from tests.media_factory import make_audio  # noqa: E402
from tests.processes import app_env, free_port, wait_healthy  # noqa: E402
from tests.redis_fixtures import RedisServer  # noqa: E402

SETTLE_S = 2.0
ROUNDS = 3
HEALTH_KEY = "scribe:queue:health-check"


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the media pool's forkserver and its workers)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        children.setdefault(int(fields["PPid"]), []).append(int(status.parent.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def job_process(pid: int) -> int | None:
    """The job process below an embedded `serve`, if it has one (older trees do not)."""
    for child in descendants(pid):
        try:
            if b"bot.jobrunner" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
        except OSError:
            continue
    return None


def pss_mb(pids: list[int]) -> float:
    """Proportional set size: pages shared between forked processes counted once overall."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Role:
    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        if args[0] == "serve":
            args = [*args, "--host", "127.0.0.1", "--port", str(self.port)]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


async def wait_worker(redis_url: str, role: Role) -> None:
    redis = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 30
        while not await redis.exists(HEALTH_KEY):
            assert role.proc.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker did not start"
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


async def transcribe_one(slack: SlackEmulator, url: str, clip: bytes) -> None:
    file = slack.add_file(clip)
    event = slack.post_user_message("C0GENERAL", files=[file])
    await slack.send_event(url + "/slack/events", event)
    deadline = time.monotonic() + 60
    while not slack.bot_replies("C0GENERAL", event["ts"]):
        assert time.monotonic() < deadline, "no reply"
        await asyncio.sleep(0.05)
    await asyncio.sleep(SETTLE_S)


async def measure(tree: Path, slack, gemini, redis: RedisServer, clip: bytes) -> dict[str, float]:  # type: ignore[no-untyped-def]
    work = Path(tempfile.mkdtemp(prefix="scribe-mem-"))
    base = app_env(slack, gemini, work, PYTHONPATH=str(tree), SCRIBE_LOG_LEVEL="WARNING")
    redis_env = base | {"REDIS_URL": redis.url}
    out: dict[str, float] = {}
    # Embedded: idle, then after one job.
    serve = Role(["serve"], base, work)
    try:
        await wait_healthy(serve.url, lambda: serve.proc.poll() is not None)
        await asyncio.sleep(SETTLE_S)
        jobs = job_process(serve.proc.pid)
        out["serve (SQLite), idle"] = rss_mb(serve.proc.pid)
        if jobs is not None:
            out["serve (SQLite): its job process, idle"] = rss_mb(jobs)
        await transcribe_one(slack, serve.url, clip)
        out["serve (SQLite), after one job"] = rss_mb(serve.proc.pid)
        if jobs is not None:
            out["serve (SQLite): its job process, after one job"] = rss_mb(jobs)
        media = descendants(jobs or serve.proc.pid)
        out["serve (SQLite): its media processes, PSS total"] = pss_mb(media)
        out["serve (SQLite): its media processes, count"] = len(media)
    finally:
        serve.stop()
    # Redis mode: the web instance and a worker.
    web = Role(["serve"], redis_env, work)
    worker = Role(["worker"], redis_env, work)
    try:
        await wait_healthy(web.url, lambda: web.proc.poll() is not None)
        await wait_worker(redis.url, worker)
        await asyncio.sleep(SETTLE_S)
        out["serve (Redis, web only), idle"] = rss_mb(web.proc.pid)
        out["worker (Redis), idle"] = rss_mb(worker.proc.pid)
        await transcribe_one(slack, web.url, clip)
        out["serve (Redis, web only), after one job"] = rss_mb(web.proc.pid)
        out["worker (Redis), after one job"] = rss_mb(worker.proc.pid)
        media = descendants(worker.proc.pid)
        out["worker (Redis): its media processes, PSS total"] = pss_mb(media)
        out["worker (Redis): its media processes, count"] = len(media)
    finally:
        web.stop()
        worker.stop()
    return out


async def main(compare: Path | None) -> None:
    trees = {"this tree": ROOT} | ({"compared": compare} if compare else {})
    work = Path(tempfile.mkdtemp(prefix="scribe-mem-"))
    clip = make_audio(work / "clip.m4a", duration_s=12.0).read_bytes()
    redis = RedisServer("redis-server", work)
    slack = SlackEmulator(rate_limits=False)
    gemini = GeminiEmulator()
    await slack.start()
    await gemini.start()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    try:
        for _ in range(ROUNDS):
            for name, tree in trees.items():
                await Redis.from_url(redis.url).flushall()
                results[name].append(await measure(tree, slack, gemini, redis, clip))
    finally:
        await slack.close()
        await gemini.close()
        redis.stop()
    rows = list(results["this tree"][0])
    names = list(trees)
    print("| role | " + " | ".join(f"{n} MB" for n in names) + (" | ratio |" if compare else " |"))
    print("|---" * (len(names) + 1 + (1 if compare else 0)) + "|")
    for row in rows:
        medians = [statistics.median(r.get(row, 0.0) for r in results[n]) for n in names]
        if not compare:
            ratio = " |"
        else:
            ratio = f" | {medians[0] / medians[1]:.2f} |" if medians[1] else " | — |"
        print(f"| {row} | " + " | ".join(f"{m:.0f}" for m in medians) + ratio)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, default=None)
    args = parser.parse_args()
    asyncio.run(main(args.compare))
