"""Block Kit rendering: escaping everywhere, Slack's limits, nothing lost when splitting."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from typing import Any

import pytest

from bot.slack.messages import Delivery, SlackMessage
from bot.slack.render import ReplyInfo, plan_delivery, render_answer, render_failure
from bot.slack.text import escape_mrkdwn, split_text
from bot.transcript.exports import to_srt, to_text, to_vtt
from bot.transcript.model import Segment, Transcript, format_timestamp

HOSTILE = "<!channel> & <@U123>"
HOSTILE_ESCAPED = "&lt;!channel&gt; &amp; &lt;@U123&gt;"
INFO = ReplyInfo(file_name="standup.m4a", duration_s=754)


def texts_of(message: SlackMessage) -> list[str]:
    """Every string Slack will render for a message: fallback text and all block texts."""
    out = [message.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return out


def section_texts(message: SlackMessage) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b["type"] == "section"]


def assert_within_limits(delivery: Delivery) -> None:
    for message in delivery.messages:
        assert 0 < len(message.blocks) <= 50
        assert len(message.text) <= 4000
        assert message.text.strip()
        total = 0
        for block in message.blocks:
            assert block["type"] in {"header", "section", "context", "divider", "actions"}
            if block["type"] == "actions":
                assert 1 <= len(block["elements"]) <= 25
                assert all(len(e.get("options", [])) <= 100 for e in block["elements"])
            if block["type"] == "header":
                assert block["text"]["type"] == "plain_text"
                assert 0 < len(block["text"]["text"]) <= 150
            if block["type"] == "section":
                assert block["text"]["type"] == "mrkdwn"
                assert 0 < len(block["text"]["text"].encode("utf-16-le")) // 2 <= 3000
            if block["type"] == "context":
                assert 1 <= len(block["elements"]) <= 10
                assert all(len(e["text"]) <= 3000 for e in block["elements"])
        for text in texts_of(message)[1:]:
            total += len(text.encode("utf-16-le")) // 2
        # Slack's undocumented cumulative block text limit is ~12,000.
        assert total <= 10_000
        json.dumps(message.blocks)  # plain JSON data


def assert_no_raw_mentions(delivery: Delivery) -> None:
    for message in delivery.messages:
        for text in texts_of(message):
            assert "<!" not in text and "<@U123>" not in text, text


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("a & b", "a &amp; b"),
        ("&lt; already", "&amp;lt; already"),
        ("", ""),
    ],
)
def test_escape_mrkdwn(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


def hostile_transcript() -> Transcript:
    return Transcript(
        summary=f"Summary {HOSTILE}",
        key_points=[f"Point {HOSTILE}"],
        action_items=[f"Action {HOSTILE}"],
        languages=[f"en{HOSTILE}"],
        segments=[
            Segment(
                speaker=f"Eve {HOSTILE}",
                timestamp="00:01",
                content=f"Content {HOSTILE}",
                translation=f"Translation {HOSTILE}",
            ),
            Segment(speaker="Bob", timestamp="00:05", content="fine"),
        ],
    )


@pytest.mark.parametrize("max_thread_messages", [5, 0])
def test_hostile_text_is_escaped_everywhere(max_thread_messages: int) -> None:
    info = ReplyInfo(
        file_name=f"file {HOSTILE}.m4a",
        duration_s=30,
        requested_by=HOSTILE,
        translated_to=HOSTILE,
    )
    delivery = plan_delivery(hostile_transcript(), info, max_thread_messages=max_thread_messages)
    assert_no_raw_mentions(delivery)
    everything = "\n".join(t for m in delivery.messages for t in texts_of(m))
    for where in ["Summary", "Point", "Action", "Content", "Translation", "Eve", "file"]:
        assert f"{where} {HOSTILE_ESCAPED}" in everything, where
    assert f"Summary {HOSTILE_ESCAPED}" in delivery.messages[0].text  # fallback text too


def test_hostile_text_in_failures_and_answers() -> None:
    failure = render_failure(f"Bad {HOSTILE}", job_id=f"job {HOSTILE}")
    answer = render_answer(f"Who {HOSTILE}?", f"Answer {HOSTILE}")
    for message in (failure, answer):
        assert_no_raw_mentions(Delivery([message], []))
    assert failure.text == f":warning: Bad {HOSTILE_ESCAPED}"
    assert f"Answer {HOSTILE_ESCAPED}" in answer.text


def test_requester_user_id_is_a_mention() -> None:
    info = ReplyInfo(file_name="a.m4a", duration_s=5, requested_by="U0123ABC")
    delivery = plan_delivery(hostile_transcript(), info)
    assert "requested by <@U0123ABC>" in "\n".join(texts_of(delivery.messages[0]))


def test_first_message_shape() -> None:
    t = Transcript(
        summary="Standup.",
        key_points=["Ship Friday"],
        action_items=["Ann writes notes"],
        languages=["en", "es-MX"],
        segments=[
            Segment(speaker="Ann", timestamp="00:12", content="Hi all."),
            Segment(speaker="Ann", timestamp="00:15", content="Let's start."),
            Segment(
                speaker="Bo",
                timestamp="00:20",
                content="Hola.",
                translation="Hello.",
                language="es",
            ),
            Segment(speaker="Ann", timestamp="00:31", content="Thanks."),
        ],
    )
    info = ReplyInfo(file_name="standup.m4a", duration_s=754, translated_to="en", chunks=3)
    delivery = plan_delivery(t, info)
    assert delivery.attachments == []
    assert len(delivery.messages) == 1
    blocks = delivery.messages[0].blocks
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Transcript · 12:34 · English, Spanish · 2 speakers",
            "emoji": True,
        },
    }
    context = blocks[1]["elements"][0]["text"]
    assert "standup.m4a" in context and "translated to English" in context
    assert "3 parts" in context
    sections = section_texts(delivery.messages[0])
    assert sections[0] == "*Summary*\nStandup."
    assert sections[1] == "*Key points*\n• Ship Friday"
    assert sections[2] == "*Action items*\n• Ann writes notes"
    # Consecutive segments of one speaker are one turn; translation in italics under it.
    assert sections[3] == (
        "*Ann* `00:12`\nHi all. Let's start.\n\n"
        "*Bo* `00:20`\nHola.\n_Hello._\n\n"
        "*Ann* `00:31`\nThanks."
    )
    assert delivery.messages[0].text.startswith("Transcript of standup.m4a (12:34): Standup.")
    assert_within_limits(delivery)


def test_no_speech() -> None:
    delivery = plan_delivery(Transcript(summary="", segments=[]), INFO)
    assert "no speech" in delivery.messages[0].blocks[0]["text"]["text"]
    assert "No speech was found" in json.dumps(delivery.messages[0].blocks)
    assert_within_limits(delivery)


def numbered(n: int, words: int, rng: random.Random, speakers: int = 3) -> Transcript:
    """Segments whose contents are unique (`seg0007 …`) and never a substring of another."""
    vocab = ["alpha", "beta", "<gamma>", "delta & co", "epsilon.", "zeta?", "éta", "😀"]
    segs = [
        Segment(
            speaker=f"Speaker {rng.randint(1, speakers)}",
            timestamp=format_timestamp(i * 5),
            content=f"seg{i:04d} " + " ".join(rng.choice(vocab) for _ in range(words)) + " end.",
        )
        for i in range(n)
    ]
    return Transcript(summary="A long meeting.", segments=segs)


def test_700_segments_nothing_lost() -> None:
    t = numbered(700, 13, random.Random(7))
    assert 65_000 <= sum(len(s.content) for s in t.segments) <= 80_000
    delivery = plan_delivery(t, ReplyInfo(file_name="all-hands.mp4", duration_s=3600))
    assert_within_limits(delivery)
    assert_no_raw_mentions(delivery)
    # Too long for 5 thread messages: the opening inline, the whole thing attached.
    assert len(delivery.messages) == 1
    assert [a.filename for a in delivery.attachments] == [
        "transcript.txt",
        "transcript.vtt",
        "transcript.srt",
    ]
    assert delivery.attachments[0].content == to_text(t, duration_s=3600)
    assert delivery.attachments[1].content == to_vtt(t, duration_s=3600)
    assert delivery.attachments[2].content == to_srt(t, duration_s=3600)
    inline = "\n".join(section_texts(delivery.messages[0]))
    shown = [s for s in t.segments if escape_mrkdwn(s.content) in inline]
    assert shown, "the opening of the transcript is shown inline"
    assert shown == t.segments[: len(shown)]
    for seg in t.segments:
        assert inline.count(escape_mrkdwn(seg.content)) <= 1
        for attachment in delivery.attachments:
            # VTT escapes markup; the text and SRT files carry it as is.
            needle = seg.content
            if attachment.filename.endswith(".vtt"):
                needle = needle.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            assert attachment.content.count(needle) == 1
    note = delivery.messages[0].blocks[-1]["elements"][0]["text"]
    assert "Full transcript attached (700 segments)" in note
    assert f"first {len(shown)} of 700 segments" in note
    assert "(full transcript attached)" in delivery.messages[0].text


def test_700_segments_in_thread_when_allowed() -> None:
    t = numbered(700, 13, random.Random(7))
    delivery = plan_delivery(t, INFO, max_thread_messages=50)
    assert_within_limits(delivery)
    assert delivery.attachments == []
    n = len(delivery.messages)
    assert n > 5
    everything = "\n".join(s for m in delivery.messages for s in section_texts(m))
    for seg in t.segments:
        assert everything.count(escape_mrkdwn(seg.content)) == 1
    for k, message in enumerate(delivery.messages[1:], start=2):
        assert message.blocks[0]["text"]["text"] == f"Transcript, part {k} of {n}"
        assert message.text == f"Transcript of standup.m4a, part {k} of {n}"
    for k, message in enumerate(delivery.messages[:-1], start=1):
        assert f"Continued in part {k + 1} of {n}" in message.blocks[-1]["elements"][0]["text"]


@pytest.mark.parametrize(
    ("segments", "max_messages", "messages", "attached"),
    [
        (5, 5, 1, False),
        (150, 5, 3, False),
        (150, 1, 1, True),
        (300, 5, 5, False),
        (300, 4, 1, True),
        (300, 3, 1, True),
    ],
)
def test_thread_or_attachment(
    segments: int, max_messages: int, messages: int, attached: bool
) -> None:
    t = numbered(segments, 13, random.Random(segments))
    delivery = plan_delivery(t, INFO, max_thread_messages=max_messages)
    assert len(delivery.messages) == messages
    assert bool(delivery.attachments) is attached
    assert_within_limits(delivery)


def test_one_huge_turn_is_split_at_sentences() -> None:
    sentences = [f"Sentence number {i} is here and it goes on a little." for i in range(400)]
    t = Transcript(
        summary="s",
        segments=[Segment(speaker="Ann", timestamp="00:00", content=" ".join(sentences))],
    )
    delivery = plan_delivery(t, INFO, max_thread_messages=10)
    assert_within_limits(delivery)
    assert not delivery.attachments
    bodies = [s for m in delivery.messages for s in section_texts(m)][1:]
    assert len(bodies) > 5
    assert bodies[0].startswith("*Ann* `00:00`\n")
    assert all(b.startswith("*Ann* `00:00` _(continued)_\n") for b in bodies[1:])
    pieces = [b.split("\n", 1)[1] for b in bodies]
    assert all(p.endswith("little.") for p in pieces)
    assert " ".join(pieces) == " ".join(sentences)


def test_long_summary_is_cut_with_a_note_and_attached() -> None:
    t = Transcript(
        summary="Words go here. " * 600,
        key_points=[f"point {i}" for i in range(300)],
        segments=[Segment(speaker="A", timestamp="00:00", content="hi")],
    )
    delivery = plan_delivery(t, INFO)
    assert_within_limits(delivery)
    assert delivery.attachments, "what was cut is in the attachment"
    rendered = json.dumps([m.blocks for m in delivery.messages])
    assert "cut here" in rendered or "no room here" in rendered
    assert "point 299" in delivery.attachments[0].content


@pytest.mark.parametrize(
    ("text", "limit", "pieces"),
    [
        ("short", 10, ["short"]),
        ("One. Two. Three.", 10, ["One. Two.", "Three."]),
        ("aaa bbb ccc ddd", 8, ["aaa bbb", "ccc ddd"]),
        ("line one\nline two", 12, ["line one", "line two"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("ab&amp;cd", 5, ["ab", "&amp;", "cd"]),
        ("😀😀😀", 4, ["😀😀", "😀"]),
    ],
)
def test_split_text(text: str, limit: int, pieces: list[str]) -> None:
    assert split_text(text, limit) == pieces


def test_render_failure() -> None:
    message = render_failure("This file is 3 h 12 min; the limit is 4 h.", job_id="j-42")
    assert message.text == ":warning: This file is 3 h 12 min; the limit is 4 h."
    assert message.blocks[0]["text"]["text"] == message.text
    # A Retry button (contract: action_id job_retry), then the job id for support.
    (retry,) = message.blocks[1]["elements"]
    assert (retry["type"], retry["action_id"], retry["value"]) == ("button", "job_retry", "j-42")
    assert message.blocks[2]["elements"][0]["text"] == "Job `j-42`"
    assert len(render_failure("x").blocks) == 1
    long = render_failure("x" * 10_000)
    assert_within_limits(Delivery([long], []))
    assert long.text.endswith("…")


def test_render_answer() -> None:
    message = render_answer("What did Ann say?", "She said **ship it** on Friday.")
    assert message.blocks[0]["elements"][0]["text"] == ":speech_balloon: *Q:* What did Ann say?"
    assert message.blocks[1]["text"]["text"] == "She said *ship it* on Friday."
    long = render_answer("q", "Many words here. " * 2000)
    assert_within_limits(Delivery([long], []))
    assert "answer cut here" in json.dumps(long.blocks)


_HEADER_LINE = re.compile(r"^\*[^*\n]+\* `\d+:\d{2}(?::\d{2})?`(?: _\(continued\)_)?$")


def body_words(delivery: Delivery) -> Counter[str]:
    """Words of the rendered transcript: sections after the divider, minus turn headers."""
    words: Counter[str] = Counter()
    for k, message in enumerate(delivery.messages):
        blocks = message.blocks
        if k == 0:
            blocks = blocks[blocks.index({"type": "divider"}) + 1 :]
        for text in (b["text"]["text"] for b in blocks if b["type"] == "section"):
            for line in text.split("\n"):
                if _HEADER_LINE.match(line):
                    continue
                if line.startswith("_") and line.endswith("_"):
                    line = line[1:-1]
                words.update(line.split())
    return words


@pytest.mark.parametrize("seed", range(25))
def test_limits_and_completeness_on_random_transcripts(seed: int) -> None:
    rng = random.Random(seed)
    vocab = ["word", "<!channel>", "&", "<@U123>", "end.", "why?", "ñandú", "😀", "x" * 40]
    n = rng.choice([0, 1, 3, 40, 200, 600])
    segs = []
    for i in range(n):
        length = rng.choice([1, 5, 30, 200]) if rng.random() > 0.02 else 1500
        segs.append(
            Segment(
                speaker=rng.choice(["Ann", "Bo <@U123>", "Speaker 3", "😀 Dee"]),
                timestamp=format_timestamp(i * 3),
                content=f"s{i} " + " ".join(rng.choice(vocab) for _ in range(length)),
                translation=(
                    " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 40)))
                    if rng.random() < 0.2
                    else None
                ),
            )
        )
    t = Transcript(
        summary=" ".join(rng.choice(vocab) for _ in range(rng.choice([0, 20, 900]))),
        key_points=[f"kp {i} {HOSTILE}" for i in range(rng.choice([0, 3, 80]))],
        action_items=[f"ai {i}" for i in range(rng.choice([0, 2]))],
        segments=segs,
    )
    info = ReplyInfo(file_name=rng.choice(["a.m4a", "😀" * 200]), duration_s=n * 3 + 1)
    delivery = plan_delivery(t, info, max_thread_messages=rng.choice([1, 3, 5, 10]))
    assert_within_limits(delivery)
    assert_no_raw_mentions(delivery)
    if delivery.attachments:
        full = delivery.attachments[0].content
        for seg in segs:
            assert f"[{seg.timestamp}] {seg.speaker}: {seg.content}" in full
        assert "Full transcript attached" in json.dumps(delivery.messages[0].blocks)
    else:
        expected: Counter[str] = Counter()
        for seg in segs:
            expected.update(escape_mrkdwn(seg.content).split())
            expected.update(escape_mrkdwn(seg.translation or "").split())
        assert body_words(delivery) == expected
