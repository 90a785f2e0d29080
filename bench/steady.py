"""Steady-traffic benchmark: ack latency of `slack-scribe serve` beside a bare Bolt app.

Method
------
- The Slack and Gemini emulators (tests/emulators) run in this process. Two apps run as
  child processes, one after the other, pointed at them: a bare Bolt `AsyncApp` whose only
  listener does nothing (Bolt acks, nothing else), and a real `slack-scribe serve` on the
  embedded SQLite journal (defaults: SCRIBE_MEDIA_WORKERS = cores).
- The same N Events API requests (default 1,000) go to each, at RATE per second (default
  100) on a fixed schedule (request i leaves at i / RATE s, whether or not earlier ones
  were answered), spread over CHANNELS channels. One in ten is a voice note as Slack's
  mobile apps send them, a VOICE_S-second Opus-in-WebM file that slack-scribe must
  transcode; the rest are plain channel messages.
- The sender is a separate process (this file with `--send`), so the emulators' work for
  slack-scribe (files.info, downloads, Gemini, posting) does not delay the measuring loop.
  Ack latency = time from sending a signed request to its HTTP answer, measured there.
- For slack-scribe, every voice note must then get its transcript in its thread: lost =
  notes without one after the deadline, duplicates = replies beyond one.
- slack-scribe runs twice: as deployed (embedded mode: the jobs in its job process,
  `bot.jobrunner`), and with SCRIBE_JOB_PROCESS=false (the jobs on the serving process's
  event loop, as before the job process), so the effect is measured side by side.
- Besides all events, the acks of the voice notes alone are reported (each is a journal
  write before the ack; the plain messages are acked without touching the journal).

Usage: python bench/steady.py [N] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHANNELS = 10
VOICE_EVERY = 10
VOICE_S = 30.0
GEMINI_LATENCY_S = 0.2


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
    }


# --- the sender (its own process) ---------------------------------------------------------


async def send_all(url: str, bodies_file: Path, secret: str, rate: float) -> None:
    import aiohttp

    from tests.emulators.slack_wire import sign

    bodies = [json.dumps(b).encode() for b in json.loads(bodies_file.read_text())]
    latencies: list[float] = [0.0] * len(bodies)
    statuses: list[int] = [0] * len(bodies)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int, body: bytes) -> None:
            ts = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": str(ts),
                "X-Slack-Signature": sign(secret, body, ts),
            }
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                statuses[i] = resp.status
            latencies[i] = time.perf_counter() - started

        # Warm the connection pool and the app (not measured).
        await asyncio.gather(*(one(0, bodies[0]) for _ in range(4)))
        t0 = time.perf_counter()
        tasks = []
        for i, body in enumerate(bodies):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, body)))
        await asyncio.gather(*tasks)
    print(json.dumps({"latencies": latencies, "statuses": statuses}))


# --- the bare Bolt app (its own process) --------------------------------------------------


def run_bare_bolt(port: int, secret: str, token: str, api_url: str) -> None:
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_url),
        signing_secret=secret,
    )

    @app.event("message")
    async def nothing() -> None:
        return None

    web.run_app(app.web_app(path="/slack/events"), host="127.0.0.1", port=port, print=None)


# --- the run --------------------------------------------------------------------------------


def scribe_env(slack: Any, gemini: Any, work: Path) -> dict[str, str]:
    from tests.processes import app_env

    return app_env(slack, gemini, work, SCRIBE_LOG_LEVEL="WARNING")


async def measure(url: str, bodies_file: Path, secret: str, rate: float) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--send",
        url,
        str(bodies_file),
        secret,
        str(rate),
        stdout=subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    result: dict[str, Any] = json.loads(out)
    return result


async def run(n: int, rate: float) -> dict[str, Any]:
    from tests.emulators.gemini import GeminiEmulator
    from tests.emulators.slack import SlackEmulator
    from tests.media_factory import make_audio
    from tests.processes import free_port

    work = Path(tempfile.mkdtemp(prefix="scribe-steady-"))
    note = make_audio(work / "audio_message.webm", duration_s=VOICE_S).read_bytes()
    slack = SlackEmulator(rate_limits=False)
    gemini = GeminiEmulator()
    await slack.start()
    await gemini.start()
    gemini.latency_s = GEMINI_LATENCY_S
    channels = [f"C0S{i:04d}" for i in range(CHANNELS)]
    for c in channels:
        slack.add_channel(c)
    envelopes = []
    notes = []
    for i in range(n):
        channel = channels[i % CHANNELS]
        if i % VOICE_EVERY == VOICE_EVERY // 2:
            f = slack.add_file(
                note, name="audio_message.webm", mimetype="audio/webm", filetype="webm"
            )
            event = slack.post_user_message(channel, files=[f])
            notes.append((channel, event["ts"]))
        else:
            event = slack.post_user_message(channel, text=f"just chatting, message {i}")
        envelopes.append(slack.event_envelope(event))
    bodies_file = work / "bodies.json"
    bodies_file.write_text(json.dumps(envelopes))
    results: dict[str, Any] = {}
    try:
        # 1. Bare Bolt: the floor.
        port = free_port()
        bare = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--bare",
                str(port),
                slack.signing_secret,
                slack.bot_token,
                slack.api_url,
            ]
        )
        try:
            await wait_ready(f"http://127.0.0.1:{port}/slack/events", bare)
            results["bare"] = await measure(
                f"http://127.0.0.1:{port}/slack/events", bodies_file, slack.signing_secret, rate
            )
        finally:
            bare.terminate()
            bare.wait(timeout=30)
        # 2. slack-scribe serve, same requests, same sender: as deployed, then jobs inline.
        for name, job_process in (("scribe", "true"), ("inline", "false")):
            results[name] = await measure_scribe(
                slack, gemini, work / name, bodies_file, rate, notes, job_process
            )
    finally:
        await slack.close()
        await gemini.close()
    results["voice_indices"] = [i for i in range(n) if i % VOICE_EVERY == VOICE_EVERY // 2]
    return results


async def measure_scribe(
    slack: Any,
    gemini: Any,
    work: Path,
    bodies_file: Path,
    rate: float,
    notes: list[tuple[str, str]],
    job_process: str,
) -> dict[str, Any]:
    from tests.processes import free_port, wait_healthy

    work.mkdir()
    for channel, ts in notes:  # the previous run's transcripts
        slack.messages[channel] = [
            m
            for m in slack.messages.get(channel, [])
            if not (m.get("bot_id") and m.get("thread_ts") == ts)
        ]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = scribe_env(slack, gemini, work) | {"SCRIBE_JOB_PROCESS": job_process}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=work,
    )
    try:
        await wait_healthy(url, lambda: proc.poll() is not None)
        started = time.perf_counter()
        result = await measure(url + "/slack/events", bodies_file, slack.signing_secret, rate)
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            if all(slack.bot_replies(c, ts) for c, ts in notes):
                break
            await asyncio.sleep(0.1)
        result["all_transcripts_s"] = time.perf_counter() - started
        await asyncio.sleep(1.0)
        replies = [len(slack.bot_replies(c, ts)) for c, ts in notes]
        result["notes"] = len(notes)
        result["transcribed"] = sum(1 for r in replies if r)
        result["duplicates"] = sum(r - 1 for r in replies if r > 1)
        result["lost"] = sum(1 for r in replies if r == 0)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return result


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            assert proc.poll() is None, "the bare Bolt app exited"
            try:
                async with session.post(url, data=b"{}") as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the bare Bolt app did not start")


LABELS = {"bare": "bare Bolt", "scribe": "slack-scribe", "inline": "  jobs inline"}


def report(results: dict[str, Any], n: int, rate: float) -> None:
    print(f"{n} events at {rate:.0f}/s, one in {VOICE_EVERY} a {VOICE_S:.0f} s WebM voice note")
    voice = set(results["voice_indices"])
    for subset, keep in (("all events", lambda i: True), ("voice notes", lambda i: i in voice)):
        print(f"-- acks of {subset}")
        rows = {}
        for name in ("bare", "scribe", "inline"):
            lat = [v for i, v in enumerate(results[name]["latencies"]) if keep(i)]
            bad = sum(1 for s in results[name]["statuses"] if s != 200)
            rows[name] = s = summary(lat)
            ratio = s["p99_ms"] / rows["bare"]["p99_ms"]
            print(
                f"{LABELS[name]:<13} p50 {s['p50_ms']:6.1f} ms  p99 {s['p99_ms']:6.1f} ms  "
                f"max {s['max_ms']:6.1f} ms  p99/bare {ratio:5.2f}×  non-200 {bad}"
            )
    for name in ("scribe", "inline"):
        r = results[name]
        print(
            f"{LABELS[name].strip()}: voice notes {r['notes']}: transcribed {r['transcribed']}, "
            f"lost {r['lost']}, duplicates {r['duplicates']}, "
            f"all transcripts after {r['all_transcripts_s']:.1f} s"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--send":
        url, bodies, secret, rate = sys.argv[2:6]
        asyncio.run(send_all(url, Path(bodies), secret, float(rate)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        port, secret, token, api_url = sys.argv[2:6]
        run_bare_bolt(int(port), secret, token, api_url)
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--dump", type=Path, default=None, help="write every latency here")
    args = parser.parse_args()
    results = asyncio.run(run(args.n, args.rate))
    if args.dump:
        args.dump.write_text(json.dumps(results))
    report(results, args.n, args.rate)


if __name__ == "__main__":
    main()
