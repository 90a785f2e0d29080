"""Long recordings end to end: huge transcripts reach Slack whole, chunks join up, one roster.

Every test shares a real clip through a signed event with the Slack emulator, the app
answers from a real server, and Gemini is the emulator with scripted answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest

from bot.gemini.client import THINKING_LEVELS
from bot.gemini.prompts import roster_prompt
from bot.transcript.model import parse_timestamp
from tests.conftest import Server, make_settings, settle, start_server, wait_for
from tests.emulators.gemini import Blocked, GeminiEmulator, Truncated
from tests.emulators.slack import SlackEmulator
from tests.media_factory import make_audio
from tests.test_exports import check_cue_timing, parse_srt, parse_vtt

CHANNEL = "C0GENERAL"
_PART = re.compile(r"This audio is part (\d+) of (\d+) of a longer recording")
_LENGTH = re.compile(r"The audio is (\S+) long")
_ROSTER_LINE = re.compile(r"^Speakers: (.+)$", re.MULTILINE)


# --------------------------------------------------------------------------- helpers


def long_clip(path: Path, minutes: int) -> Path:
    """An MP3 of `minutes` made by repeating a one-minute clip's packets (fast to build).

    MP3 because the emulator measures it exactly (it estimates ADTS from the bit rate).
    """
    base = make_audio(
        path.with_name("base-1min.mp3"), duration_s=60.0, sample_rate=16_000, bit_rate=32_000
    )
    with av.open(str(base)) as src, av.open(str(path), "w", format="mp3") as out:
        stream = src.streams.audio[0]
        packets = [p for p in src.demux(stream) if p.size and p.pts is not None]
        period = packets[-1].pts + (packets[-1].duration or 0) - packets[0].pts
        ostream = out.add_stream_from_template(stream)
        for k in range(minutes):
            for p in packets:
                copy = av.Packet(bytes(p))
                copy.pts = copy.dts = p.pts + k * period
                copy.duration = p.duration
                copy.time_base = stream.time_base
                copy.stream = ostream
                out.mux(copy)
    base.unlink()
    return path


def _blocks(value: Any) -> list[dict[str, Any]]:
    """Content blocks of a request's `input` (the SDK nests them in a `user_input` step)."""
    items = value if isinstance(value, list) else [value]
    blocks: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("content"), list):
            blocks += _blocks(item["content"])
        elif isinstance(item, dict):
            blocks.append(item)
    return blocks


def request_text(request: dict[str, Any]) -> str:
    """The text blocks of one recorded interactions.create request."""
    return "\n".join(
        str(b.get("text") or "") for b in _blocks(request.get("input")) if b.get("type") == "text"
    )


def has_audio(request: dict[str, Any]) -> bool:
    return any(b.get("type") == "audio" for b in _blocks(request.get("input")))


def chunk_requests(gemini: GeminiEmulator) -> dict[int, str]:
    """Part number → prompt text of each chunk's transcription request."""
    parts: dict[int, str] = {}
    for request in gemini.interaction_requests:
        text = request_text(request)
        m = _PART.search(text)
        if m:
            parts[int(m.group(1))] = text
    return parts


def chunk_answer(labels: tuple[str, str], every_s: int = 10) -> Any:
    """A scripted answer for any request: per chunk a transcript whose content names the part.

    The roster pass and the summary get the emulator's default (None).
    """

    def answer(request: dict[str, Any]) -> dict[str, Any] | None:
        text = request_text(request)
        part, length = _PART.search(text), _LENGTH.search(text)
        if not (part and length):
            return None
        index, seconds = int(part.group(1)), parse_timestamp(length.group(1))
        starts = list(range(0, max(1, int(seconds)), every_s))
        return {
            "summary": f"Part {index}.",
            "segments": [
                {
                    "speaker": labels[k % 2],
                    "timestamp": f"{t // 60:02d}:{t % 60:02d}",
                    "content": f"Part {index} line {k + 1}.",
                    "language": "en",
                }
                for k, t in enumerate(starts)
            ],
        }

    return answer


def posted_text(message: dict[str, Any]) -> str:
    """All text a posted message shows: section and context texts, then the fallback."""
    texts = []
    for block in message.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            texts.append(str(text.get("text", "")))
        for element in block.get("elements") or []:
            if isinstance(element, dict):
                texts.append(str(element.get("text", "")))
    return "\n".join(texts) + "\n" + str(message.get("text") or "")


async def share(slack: SlackEmulator, srv: Server, clip: Path) -> dict[str, Any]:
    file = slack.add_file(clip.read_bytes(), name=clip.name, mimetype="audio/mpeg", filetype="mp3")
    event = slack.post_user_message(CHANNEL, files=[file])
    sent = await slack.send_event(srv.events_url, event)
    assert sent.status == 200
    return event


async def delivered(
    slack: SlackEmulator, srv: Server, event: dict[str, Any]
) -> list[dict[str, Any]]:
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=60)
    await settle(srv, timeout=60)
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert replies and not replies[0]["text"].startswith(":warning:"), replies[0]["text"]
    return replies


@pytest.fixture
async def srv(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> AsyncIterator[Server]:
    work = tmp_path / "work"
    work.mkdir()
    server = await start_server(make_settings(slack, gemini, tmp_path, scribe_tmp_dir=str(work)))
    try:
        yield server
    finally:
        await server.runner.cleanup()


# ----------------------------------------------------------------------------- tests


def _long_transcript(n: int = 700) -> dict[str, Any]:
    """`n` segments, one a second, ~100 characters each; every 7th in German, translated."""
    speakers = ["Ana", "Ben", "Speaker 3"]
    segments = []
    for i in range(n):
        german = i % 7 == 3
        content = (
            f"Zeile {i:03d}: wir sprechen weiter über den Zeitplan und die nächsten Schritte."
            if german
            else f"Line {i:03d}: we keep talking about the schedule, the budget and next steps."
        )
        segments.append(
            {
                "speaker": speakers[(i // 3) % 3],
                "timestamp": f"{i // 60:02d}:{i % 60:02d}",
                "content": content + " " + "x" * (18 if german else 20),
                "language": "de" if german else "en",
                "translation": f"Line {i:03d} (translated): we keep talking." if german else None,
                "emotion": "neutral",
            }
        )
    return {
        "summary": "A long planning meeting.",
        "key_points": ["The schedule holds."],
        "action_items": ["Ben sends the budget."],
        "languages": ["en", "de"],
        "speakers": speakers,
        "segments": segments,
    }


async def test_700_segment_transcript_reaches_slack_whole(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, tmp_path: Path
) -> None:
    answer = _long_transcript()
    chars = sum(len(s["content"]) for s in answer["segments"])
    assert 65_000 <= chars <= 75_000
    gemini.script(answer)
    event = await share(slack, srv, long_clip(tmp_path / "meeting.mp3", minutes=12))

    replies = await delivered(slack, srv, event)

    assert len(gemini.interaction_requests) == 1  # one request, no retry, no chunks
    posts = slack.calls_to("chat.postMessage")
    assert posts and all(p.response.get("ok") is True for p in posts), [
        p.response.get("error") for p in posts
    ]
    assert not any(p.response.get("warning") for p in posts)
    assert not any(m.get("truncated") for m in replies)
    uploads = [u for u in slack.uploads if u["thread_ts"] == event["ts"]]
    assert {u["filename"] for u in uploads} == {
        "transcript.txt",
        "transcript.vtt",
        "transcript.srt",
    }
    by_name = {u["filename"]: u["content"].decode() for u in uploads}
    shown = "\n".join(posted_text(m) for m in replies)
    for seg in answer["segments"]:
        # The whole transcript is in every attachment; the reply shows its opening.
        for name, content in by_name.items():
            assert seg["content"] in content, (name, seg["content"])
            if seg["translation"]:
                assert seg["translation"] in content, (name, seg["translation"])
        assert (
            f"[{seg['timestamp']}] {seg['speaker']}: {seg['content']}" in by_name["transcript.txt"]
        )
    assert answer["segments"][0]["content"] in shown
    assert "700 segments" in shown
    # The subtitle files parse, with one cue per segment, timed inside the recording.
    srt, vtt = parse_srt(by_name["transcript.srt"]), parse_vtt(by_name["transcript.vtt"])
    for cues in (srt, vtt):
        check_cue_timing(cues, 700, None)
        assert 12 * 60 <= cues[-1].end <= 12 * 61  # the clip is 12 repeats of ~60.08 s
    for seg, cue in zip(answer["segments"], srt, strict=True):
        assert cue.start == parse_timestamp(seg["timestamp"])
        assert cue.lines[0] == f"{seg['speaker']}: {seg['content']}"
        assert cue.lines[1:] == ([seg["translation"]] if seg["translation"] else [])


async def test_truncated_answer_falls_back_to_chunks_that_cover_the_recording(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, tmp_path: Path
) -> None:
    duration_s = 300.0
    gemini.script(
        Truncated({"summary": "x", "segments": []}),
        *[chunk_answer(("Speaker 1", "Speaker 2"))] * 30,
    )
    event = await share(slack, srv, long_clip(tmp_path / "five-min.mp3", minutes=5))

    replies = await delivered(slack, srv, event)

    parts = chunk_requests(gemini)
    total = len(parts)
    assert total >= 2 and sorted(parts) == list(range(1, total + 1))
    lengths = [float(parse_timestamp(_LENGTH.findall(parts[i])[0])) for i in sorted(parts)]
    offsets = [sum(lengths[:i]) for i in range(total)]
    assert abs(sum(lengths) - duration_s) <= total  # chunk lengths are shown in whole seconds
    text = "\n".join(posted_text(m) for m in replies)
    assert f"transcribed in {total} parts" in text
    found = [
        (parse_timestamp(ts), int(part), int(line))
        for ts, part, line in re.findall(r"`([\d:]+)`\nPart (\d+) line (\d+)\.", text)
    ]
    stamps = [t for t, _, _ in found]
    assert stamps == sorted(stamps), "timestamps go back somewhere"
    assert all(0 <= t < duration_s for t in stamps)
    for i in range(total):
        expected = len(range(0, int(lengths[i]), 10))
        mine = [(t, line) for t, part, line in found if part == i + 1]
        # Every line Gemini gave for this chunk is in the reply, in order …
        assert [line for _, line in mine] == list(range(1, expected + 1)), i + 1
        # … at the chunk's place on the recording's timeline.
        for t, line in mine:
            local = (line - 1) * 10
            assert abs(t - (offsets[i] + local)) <= total + 1, (i + 1, line, t)
        if i:
            previous = [t for t, part, _ in found if part == i]
            assert min(t for t, _ in mine) > max(previous), f"no rise into part {i + 1}"


async def test_roster_reaches_every_chunk_and_labels_map_onto_it(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, tmp_path: Path
) -> None:
    chunks = chunk_answer(("speaker_1", "SPEAKER 2"), every_s=30)

    def answer(request: dict[str, Any]) -> dict[str, Any] | None:
        if roster_prompt() in request_text(request):
            return {"speakers": ["Ana", "Ben"]}
        return chunks(request)

    gemini.script(*[answer] * 30)
    # Longer than CHUNK_ABOVE_S: chunked up front, no single request first.
    event = await share(slack, srv, long_clip(tmp_path / "panel.mp3", minutes=21))

    replies = await delivered(slack, srv, event)

    audio_requests = [request_text(r) for r in gemini.interaction_requests if has_audio(r)]
    roster_requests = [t for t in audio_requests if roster_prompt() in t]
    assert len(roster_requests) == 1
    parts = chunk_requests(gemini)
    assert len(parts) >= 2
    assert len(audio_requests) == 1 + len(parts)  # the roster pass, then one per chunk
    levels = [r["generation_config"]["thinking_level"] for r in gemini.interaction_requests]
    assert levels == [THINKING_LEVELS["roster"]] + [THINKING_LEVELS["transcription"]] * len(
        parts
    ) + [THINKING_LEVELS["summary"]]  # the whole-recording summary comes last
    for index, text in parts.items():
        rosters = _ROSTER_LINE.findall(text)
        assert rosters == ["Ana, Ben"], (index, rosters)
    text = "\n".join(posted_text(m) for m in replies)
    turns = re.findall(r"\*([^*\n]+)\* `[\d:]+`\nPart (\d+) line (\d+)\.", text)
    assert {part for _, part, _ in turns} == {str(i) for i in parts}
    assert {speaker for speaker, _, _ in turns} == {"Ana", "Ben"}
    for speaker, part, line in turns:
        # Odd lines were "speaker_1" (the roster's first voice), even ones "SPEAKER 2".
        assert speaker == ("Ana" if int(line) % 2 else "Ben"), (part, line, speaker)
    assert "speaker_1" not in text and "SPEAKER 2" not in text
    assert "2 speakers" in json.dumps(replies[0]["blocks"][0])


async def test_a_chunk_gemini_refuses_ends_in_that_message_not_a_crash(
    slack: SlackEmulator, gemini: GeminiEmulator, srv: Server, tmp_path: Path
) -> None:
    def answer(request: dict[str, Any]) -> Any:
        part = _PART.search(request_text(request))
        return Blocked() if part and part.group(1) == "2" else None

    gemini.script(*[answer] * 30)
    event = await share(slack, srv, long_clip(tmp_path / "long.mp3", minutes=21))

    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]), timeout=60)
    await settle(srv, timeout=60)
    replies = slack.bot_replies(CHANNEL, event["ts"])
    assert len(replies) == 1
    assert replies[0]["text"].startswith(":warning:")
    assert "declined to transcribe" in replies[0]["text"]
    assert list((tmp_path / "work").iterdir()) == []  # chunk files are gone too
