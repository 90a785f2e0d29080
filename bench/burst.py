"""Burst benchmark: N clip events sent at once to a real `slack-scribe serve` process.

Method
------
- The Slack and Gemini emulators (tests/emulators) run in this process; `slack-scribe
  serve` runs as a child process on the embedded SQLite journal, pointed at them.
- One 5-second AAC clip (made with PyAV) is registered N times as different files,
  spread over CHANNELS channels (Slack's per-channel posting limit applies).
- For every clip both events Slack sends are delivered — `message`/`file_share` and
  `file_shared` — all at once (up to 200 requests in flight), and 10 % of the message
  events are delivered again as retries (`X-Slack-Retry-Num: 1`).
- Ack latency = time from sending a signed request to its HTTP answer, measured here.
- Done = every clip's thread has a bot reply. Duplicates = replies beyond one per
  thread; lost = clips with none after the deadline. Gemini answers after a fixed
  GEMINI_LATENCY_S; the emulator records the highest number of requests in flight.
- `--bare`: first the same burst (same events, same sender, same run) goes to a bare Bolt
  `AsyncApp` child process that only acks (bench/steady.py's), the floor; the p99 ratio
  of slack-scribe to it is printed.

Usage: python bench/burst.py [N] [--concurrency K] [--bare]
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

from bench.steady import wait_ready  # noqa: E402
from tests.emulators.gemini import GeminiEmulator  # noqa: E402
from tests.emulators.slack import SlackEmulator  # noqa: E402
from tests.media_factory import make_audio  # noqa: E402
from tests.processes import app_env, free_port, wait_healthy  # noqa: E402

CHANNELS = 50
GEMINI_LATENCY_S = 0.2


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(n: int, concurrency: int, compare_bare: bool = False) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="scribe-burst-"))
    clip = make_audio(work / "clip.m4a", duration_s=5.0)
    slack = SlackEmulator()
    gemini = GeminiEmulator()
    await slack.start()
    await gemini.start()
    gemini.latency_s = GEMINI_LATENCY_S
    channels = [f"C0B{i:04d}" for i in range(CHANNELS)]
    for c in channels:
        slack.add_channel(c)
    port = free_port()
    env = app_env(
        slack,
        gemini,
        work,
        SCRIBE_MAX_CONCURRENCY=str(concurrency),
        SCRIBE_LOG_LEVEL="WARNING",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=work,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, lambda: proc.poll() is not None)
        clips = []
        data = clip.read_bytes()
        for i in range(n):
            channel = channels[i % CHANNELS]
            f = slack.add_file(data, name=f"clip-{i}.m4a")
            clips.append((channel, slack.post_user_message(channel, files=[f]), f))

        async def burst(events_url: str) -> tuple[list[float], list[int]]:
            """Every clip's two events at once (200 in flight), then 10 % retried."""
            sem = asyncio.Semaphore(200)
            latencies: list[float] = []
            statuses: list[int] = []

            async def send(coro_factory):  # type: ignore[no-untyped-def]
                async with sem:
                    sent = await coro_factory()
                    latencies.append(sent.elapsed_s)
                    statuses.append(sent.status)
                    return sent

            # Bolt's first request looks up the token (auth.test) and caches it: one
            # plain message first, so that 200 requests at once do not all ask.
            await slack.send_event(events_url, slack.post_user_message(channels[0], text="hi"))
            first = await asyncio.gather(
                *[send(lambda e=e: slack.send_event(events_url, e)) for _, e, _ in clips]
            )
            await asyncio.gather(
                *[
                    send(
                        lambda c=c, f=f: slack.send_event(
                            events_url, slack.file_shared_event(f, channel=c)
                        )
                    )
                    for c, _, f in clips
                ],
                *[
                    send(
                        lambda e=e, s=s: slack.send_event(
                            events_url, e, event_id=s.event_id, retry_num=1
                        )
                    )
                    for (_, e, _), s in list(zip(clips, first, strict=True))[::10]
                ],
            )
            return latencies, statuses

        bare_latencies: list[float] = []
        if compare_bare:
            # The floor: a bare Bolt app that only acks, same events, same sender, same run.
            bare_port = free_port()
            bare = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "bench" / "steady.py"),
                    "--bare",
                    str(bare_port),
                    slack.signing_secret,
                    slack.bot_token,
                    slack.api_url,
                ]
            )
            try:
                bare_url = f"http://127.0.0.1:{bare_port}/slack/events"
                await wait_ready(bare_url, bare)
                bare_latencies, _ = await burst(bare_url)
            finally:
                bare.terminate()
                bare.wait(timeout=30)
        started = time.perf_counter()
        latencies, statuses = await burst(url + "/slack/events")
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            if all(slack.bot_replies(c, e["ts"]) for c, e, _ in clips):
                break
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)
        replies = [len(slack.bot_replies(c, e["ts"])) for c, e, _ in clips]
        return {
            "clips": n,
            "events_sent": len(latencies),
            "non_200": sum(1 for s in statuses if s != 200),
            "ack_p50_ms": statistics.median(latencies) * 1000,
            "ack_p99_ms": _pct(latencies, 0.99) * 1000,
            "ack_max_ms": max(latencies) * 1000,
            "all_replies_s": elapsed,
            "replies": sum(1 for r in replies if r),
            "duplicates": sum(r - 1 for r in replies if r > 1),
            "lost": sum(1 for r in replies if r == 0),
            **(
                {
                    "bare_bolt_ack_p50_ms": statistics.median(bare_latencies) * 1000,
                    "bare_bolt_ack_p99_ms": _pct(bare_latencies, 0.99) * 1000,
                    "bare_bolt_ack_max_ms": max(bare_latencies) * 1000,
                    "ack_p99_ratio_to_bare": _pct(latencies, 0.99) / _pct(bare_latencies, 0.99),
                }
                if bare_latencies
                else {}
            ),
            "max_concurrent_gemini": gemini.max_concurrent_interactions,
            "gemini_requests": len(gemini.interaction_requests),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        await slack.close()
        await gemini.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--bare", action="store_true", help="also send the burst to a bare Bolt app (the floor)"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args.n, args.concurrency, args.bare))
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(
            f"{key:<{width}}  {value:.1f}"
            if isinstance(value, float)
            else f"{key:<{width}}  {value}"
        )


if __name__ == "__main__":
    main()
