"""Context benchmark: hint tokens per request, and what one label per voice costs on 3 h.

Run: `python bench/context.py` (options: `--channels N` per size, `--seed S`,
`--cache DIR`). Takes ~1 min; the 3-hour input is cached in
`$TMPDIR/slack-scribe-bench/long-audio` (shared with bench/long_audio.py).

Method
------
- **Hints.** The Slack emulator (tests/emulators/slack.py, real slack_sdk client, Slack's
  rate limits off: see `hints`) holds 600 people with realistic names (display name and real name of
  5-25 characters). For each channel size (5, 50, 500 members) `--channels` channels
  (default 25) get random topics and purposes (0-250 characters, Slack's cap), a message
  with the file (0-400 characters), a thread of 0-6 replies by members, and a vocabulary
  of 0-20 terms. `bot.jobs.context.gather_context` runs as a job would and
  `bot.gemini.prompts.render_hints` renders the block; tokens are counted as the Gemini
  emulator counts them (4 characters a token: `estimate_tokens`). Slack calls are
  counted per job with cold caches (the first job of a fresh process) and warm (the
  channel's info and members cached 10 min, names 1 h). The hints' share of the rate
  limits is lifted here; it bounds how many jobs a minute get every hint, not the size.
- **One label per voice, 3 h.** The production path (`transcribe_recording`, concurrency
  4, 16 chunks of 11.25 min) against the Gemini emulator answering from a
  `VoicedRecording` (tests/emulators/gemini_voices.py): six voices, two from the start
  and four that first speak in chunks 3, 6, 10 and 14, a turn a minute. Its cost is
  everything the labels-only roster did not have: the description lines in each chunk
  prompt and the `voices` instruction (input), the `voices` list in each chunk answer and
  the descriptions in the roster answer (output, counted from the answers' JSON), and the
  reconciliation request (input, output, thinking at its `medium` level), which runs after
  the chunks, before the summary: its latency adds to the job's (emulator model: 1 s plus
  (output + thought) / 150 tokens a second). No hints in this run (they are measured
  above; their cost per recording is hint tokens × requests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from long_audio import build_audio  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from bot.gemini.chunked import transcribe_recording  # noqa: E402
from bot.gemini.client import GeminiTranscriber, build_client  # noqa: E402
from bot.gemini.config import GeminiConfig, Usage  # noqa: E402
from bot.gemini.prompts import (  # noqa: E402
    HINT_TOKEN_BUDGET,
    RECONCILE_INSTRUCTION,
    TranscribeOptions,
    estimate_tokens,
    render_hints,
)
from bot.jobs.context import HINT_CALLS_PER_MINUTE, gather_context  # noqa: E402
from bot.jobs.spec import Job  # noqa: E402
from bot.media.prepare import prepare_audio  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.emulators.gemini import GeminiEmulator  # noqa: E402
from tests.emulators.gemini_voices import Voice, VoicedRecording  # noqa: E402
from tests.emulators.slack import SlackEmulator  # noqa: E402

SIZES = (5, 50, 500)
PEOPLE = 600
FIRST = ["Ana Lucía", "Bob", "Chidi", "Dmitri", "Eleanor", "Fatima", "Grégoire", "Hiroshi"]
LAST = ["Okonkwo", "Smith", "Vasquez-Herrera", "Nakamura", "O'Brien", "Lindqvist", "Nguyen"]
WORDS = ["kubernetes", "rollout", "budget", "etcd", "quarter", "launch", "roadmap", "retro"]
READ_METHODS = (
    "conversations.info",
    "conversations.replies",
    "conversations.members",
    "users.info",
)


def words(rng: random.Random, max_chars: int) -> str:
    target = rng.randint(0, max_chars)
    out: list[str] = []
    while len(" ".join(out)) < target:
        out.append(rng.choice(WORDS))
    return " ".join(out)[:target]


def add_people(slack: SlackEmulator, rng: random.Random) -> list[str]:
    ids = []
    for i in range(PEOPLE):
        first = rng.choice(FIRST)
        real = f"{first} {rng.choice(LAST)}"
        display = rng.choice([first.lower(), real, real.replace(" ", ".").lower(), ""])
        uid = f"U{i:08d}"
        slack.add_user(uid, name=f"user{i}", real_name=real, display_name=display)
        ids.append(uid)
    return ids


class _Vocabulary:
    def __init__(self, terms: dict[str, list[str]]) -> None:
        self.terms = terms

    async def get_vocabulary(self, channel_id: str) -> list[str]:
        return self.terms.get(channel_id, [])


async def hints(channels: int, seed: int) -> None:
    rng = random.Random(seed)
    # Rate limits off: this measures what a job sends when Slack answers. With them on,
    # conversations.info and .replies (Tier 3, ~50 a minute per workspace) and users.info
    # (Tier 4) start failing past that rate, and those jobs get fewer hints, not errors.
    slack = SlackEmulator(rate_limits=False)
    await slack.start()
    # Nor the hints' own share of them (bot.jobs.context.HINT_CALLS_PER_MINUTE): in a
    # running process it leaves hints out past 20 threads and 50 new names a minute.
    for method in HINT_CALLS_PER_MINUTE:
        HINT_CALLS_PER_MINUTE[method] = 1e9
    people = add_people(slack, rng)
    vocabulary: dict[str, list[str]] = {}
    services = cast(Any, SimpleNamespace(slack=None, store=_Vocabulary(vocabulary)))
    print("## Hint tokens per request (budget", HINT_TOKEN_BUDGET, "tokens)\n")
    print("| members | channels | median tokens | max tokens | Slack calls, cold | warm |")
    print("|---|---|---|---|---|---|")
    try:
        for size in SIZES:
            tokens: list[int] = []
            cold: list[int] = []
            warm: list[int] = []
            for c in range(channels):
                channel = f"C{size:04d}{c:04d}"
                members = set(rng.sample(people, size))
                slack.add_channel(
                    channel,
                    name=words(rng, 40).replace(" ", "-") or f"chan-{c}",
                    topic=words(rng, 250),
                    purpose=words(rng, 250),
                    members=members,
                )
                vocabulary[channel] = [
                    rng.choice(WORDS).title() + str(i) for i in range(rng.randint(0, 20))
                ]
                sharer = rng.choice(sorted(members))
                root = slack.post_user_message(channel, user=sharer, text=words(rng, 400))
                for _ in range(rng.randint(0, 6)):
                    slack.post_user_message(
                        channel,
                        user=rng.choice(sorted(members)),
                        text=words(rng, 80),
                        thread_ts=root["ts"],
                    )
                job = Job(
                    id=f"t:{channel}:F1",
                    channel_id=channel,
                    thread_ts=root["ts"],
                    message_ts=root["ts"],
                    user_id=sharer,
                )
                # A fresh client has an empty name cache: the first job of a process.
                services.slack = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
                for counts in (cold, warm):
                    before = sum(len(slack.calls_to(m)) for m in READ_METHODS)
                    room = await gather_context(services, job, {"user": sharer})
                    counts.append(sum(len(slack.calls_to(m)) for m in READ_METHODS) - before)
                assert room is not None
                tokens.append(estimate_tokens(render_hints(room.hints)))
            print(
                f"| {size} | {channels} | {statistics.median(tokens):.0f} | {max(tokens)} "
                f"| {statistics.median(cold):.0f} (max {max(cold)}) "
                f"| {statistics.median(warm):.0f} |"
            )
    finally:
        await slack.close()


def three_hours() -> VoicedRecording:
    voices = {
        "A": Voice("low, slow voice; chairs the meeting and hands over"),
        "B": Voice("bright, fast voice; reports the budget figures"),
        "C": Voice("hoarse voice with a Scottish accent; the auditor asking questions"),
        "D": Voice("soft voice on an echoing phone line; a caller from the Lisbon office"),
        "E": Voice("deep voice, long pauses; the legal counsel"),
        "F": Voice("young, quick voice; the intern taking notes"),
    }
    first_chunk = {"A": 1, "B": 1, "C": 3, "D": 6, "E": 10, "F": 14}
    chunk_s = 10800 / 16
    turns = []
    for minute in range(180):
        at = minute * 60.0 + 15
        present = [k for k, first in first_chunk.items() if at >= (first - 1) * chunk_s]
        turns.append((at, present[minute * 7 % len(present)], f"minute {minute}"))
    return VoicedRecording(duration_s=10800.0, voices=voices, turns=turns)


def _blocks(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("content"), list):
            out += _blocks(item["content"])
        elif isinstance(item, dict):
            out.append(item)
    return out


def _text(request: dict[str, Any]) -> str:
    return "\n".join(str(b.get("text") or "") for b in _blocks(request.get("input")))


def _output(interaction: dict[str, Any]) -> str:
    steps = interaction.get("steps") or []
    return "".join(
        str(c.get("text") or "")
        for s in steps
        if s.get("type") == "model_output"
        for c in s.get("content") or []
    )


async def labelling(cache: Path) -> None:
    source = build_audio(cache, 180)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        audio = await asyncio.to_thread(prepare_audio, source, workdir, max_minutes=240)
        emu = GeminiEmulator()
        await emu.start()
        emu.latency_s, emu.tokens_per_s = 1.0, 150.0
        emu.voices = three_hours()
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, gemini_api_key=emu.api_key, gemini_base_url=emu.base_url
        )
        config = GeminiConfig.from_settings(settings)
        client = build_client(config)
        gemini = GeminiTranscriber(client, config, concurrency=asyncio.Semaphore(4))
        usage = Usage()
        try:
            transcript, chunks = await transcribe_recording(
                gemini, audio, workdir, TranscribeOptions(), usage, concurrency=4
            )
        finally:
            await client.aio.aclose()
            await emu.close()
    requests = list(zip(emu.interaction_requests, emu.interactions.values(), strict=True))
    prompt_extra = output_extra = 0
    reconcile = {"input": 0, "output": 0, "thought": 0, "requests": 0}
    for request, interaction in requests:
        text, out, use = _text(request), _output(interaction), interaction["usage"]
        if RECONCILE_INSTRUCTION in text:
            reconcile["requests"] += 1
            reconcile["input"] += use["total_input_tokens"]
            reconcile["output"] += use["total_output_tokens"]
            reconcile["thought"] += use["total_thought_tokens"]
        elif "part " in text and "Speakers:" in text:
            described = text.split("The voices of this recording", 1)
            if len(described) == 2:
                block = described[1].split("Use exactly these speaker labels", 1)[0]
                prompt_extra += estimate_tokens("The voices of this recording" + block)
            line7 = next(ln for ln in text.splitlines() if ln.startswith("7. In `voices`"))
            prompt_extra += estimate_tokens(line7 + "\n")
            answer = json.loads(out)
            output_extra += estimate_tokens(json.dumps(answer.get("voices") or []))
        elif "speakers" in out and "segments" not in out:
            entries = json.loads(out)["speakers"]
            labels = [e.split(":")[0] for e in entries]
            output_extra += estimate_tokens(json.dumps(entries)) - estimate_tokens(
                json.dumps(labels)
            )
    labels_per_voice: dict[str, set[str]] = {}
    for seg in transcript.segments:
        labels_per_voice.setdefault(seg.content[1], set()).add(seg.speaker)
    reconcile_s = reconcile["requests"] * 1.0 + (reconcile["output"] + reconcile["thought"]) / 150
    print("\n## One label per voice, 3-hour recording\n")
    print(
        f"{chunks} chunks; {usage.requests} requests in all; job totals: "
        f"{usage.input_tokens:,} input, {usage.output_tokens:,} output, "
        f"{usage.thought_tokens:,} thought tokens\n"
    )
    print("| cost | requests | input tokens | output tokens | thought tokens |")
    print("|---|---|---|---|---|")
    print(
        f"| voice descriptions in the {chunks} chunk prompts + `voices` instruction | 0 "
        f"| {prompt_extra:,} | | |"
    )
    print(
        f"| `voices` in the chunk answers + descriptions in the roster answer | 0 | "
        f"| {output_extra:,} | |"
    )
    print(
        f"| reconciliation pass (text only) | {reconcile['requests']} | "
        f"{reconcile['input']:,} | {reconcile['output']:,} | {reconcile['thought']:,} |"
    )
    total_in = prompt_extra + reconcile["input"]
    total_out = output_extra + reconcile["output"] + reconcile["thought"]
    print(
        f"| **total extra** | {reconcile['requests']} | {total_in:,} | "
        f"{total_out:,} (with thinking) | |"
    )
    print(
        f"\nExtra share of the job: {100 * total_in / usage.input_tokens:.2f} % of input, "
        f"{100 * total_out / (usage.output_tokens + usage.thought_tokens):.1f} % of billable "
        f"output; reconciliation latency ≈ {reconcile_s:.1f} s (sequential)."
    )
    print("Labels per voice:", {k: sorted(v) for k, v in sorted(labels_per_voice.items())})


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=25)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "slack-scribe-bench" / "long-audio",
    )
    args = parser.parse_args()
    await hints(args.channels, args.seed)
    await labelling(args.cache)


if __name__ == "__main__":
    asyncio.run(main())
