"""Block Kit for transcript replies, failures and answers, kept inside Slack's limits.

Pure functions: a `Transcript` in, a `Delivery` (messages to post in the thread, files
to attach) out. Everything that came from audio or from users is escaped, so a
transcript can never ping `@channel` or a user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.slack.controls_render import RETRY_ACTION, transcript_controls
from bot.slack.messages import Attachment, Delivery, SlackMessage
from bot.slack.text import (
    clip,
    escape_mrkdwn,
    inline,
    language_name,
    plural,
    slack_len,
    speaker_name,
    split_text,
)
from bot.transcript.exports import to_srt, to_text, to_vtt
from bot.transcript.model import Segment, Transcript, format_timestamp

# Documented Block Kit limits (slack_sdk models/blocks/blocks.py; Slack's docs).
MAX_BLOCKS = 50
SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
CONTEXT_TEXT_LIMIT = 3000
# Slack truncates `text` past 40,000 and recommends ≤ 4,000; we stay at the latter.
FALLBACK_TEXT_LIMIT = 4000
# Undocumented: chat.postMessage answers `msg_blocks_too_long` once the text of all
# blocks together passes roughly 12,000 characters (bolt-js#2509, #2867 saw it at
# 11,341 with section blocks). Stay well below that.
MESSAGE_TEXT_BUDGET = 10_000
# Summary, key points and action items together; beyond this they are cut (saying so)
# and the full text goes into the attachment.
PREAMBLE_TEXT_BUDGET = 5_000
# How much of the transcript a reply shows inline when the full one is attached.
OPENING_TEXT_BUDGET = 3_000
# Room kept in every message for the "part k of N" header and trailing context line.
_RESERVED_CHARS = 300
_RESERVED_BLOCKS = 2

_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_MD_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")


@dataclass(frozen=True)
class ReplyInfo:
    """What the reply says about the recording besides the transcript."""

    file_name: str
    duration_s: float
    requested_by: str | None = None
    translated_to: str | None = None
    chunks: int = 1
    #: What the header calls it ("German translation" for a translation posted on request).
    title: str = "Transcript"


# ------------------------------------------------------------------------- blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(text, CONTEXT_TEXT_LIMIT)}],
    }


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(text, HEADER_TEXT_LIMIT), "emoji": True},
    }


_DIVIDER: dict[str, Any] = {"type": "divider"}


def block_text_length(block: dict[str, Any]) -> int:
    """Characters of text a block carries (what counts towards the message budget)."""
    total = 0
    text = block.get("text")
    if isinstance(text, dict):
        total += slack_len(str(text.get("text", "")))
    for element in block.get("elements", []):
        if isinstance(element, dict):
            total += slack_len(str(element.get("text", "")))
    return total


def _blocks_length(blocks: list[dict[str, Any]]) -> int:
    return sum(block_text_length(b) for b in blocks)


# ---------------------------------------------------------------------- the reply


def _header_text(t: Transcript, info: ReplyInfo) -> str:
    parts = [info.title, format_timestamp(info.duration_s)]
    codes = t.languages or [s.language for s in t.segments if s.language]
    names = list(dict.fromkeys(language_name(c) for c in codes if language_name(c)))
    if names:
        parts.append(", ".join(names))
    speakers = {inline(s.speaker) for s in t.segments}
    if speakers:
        parts.append(plural(len(speakers), "speaker"))
    else:
        parts.append("no speech")
    return " · ".join(parts)


def _details_text(info: ReplyInfo) -> str:
    parts = [f":page_facing_up: {clip(escape_mrkdwn(inline(info.file_name)), 300)}"]
    if info.requested_by:
        who = info.requested_by.strip()
        parts.append(
            f"requested by <@{who}>"
            if _SLACK_USER_ID.match(who)
            else f"requested by {escape_mrkdwn(inline(who))}"
        )
    if info.translated_to:
        parts.append(f"translated to {escape_mrkdwn(language_name(info.translated_to))}")
    if info.chunks > 1:
        parts.append(f"transcribed in {info.chunks} parts")
    return " · ".join(parts)


def _titled_sections(title: str, body: str, budget: int) -> tuple[list[dict[str, Any]], int, bool]:
    """`*Title*\\nbody` as sections; body cut (saying so) past `budget`. → blocks, used, cut."""
    note = "\n_(cut here: the full text is in the attached transcript.txt)_"
    cut = False
    if slack_len(body) > budget:
        room = max(budget - slack_len(note), 200)
        body = split_text(body, room)[0] + note
        cut = True
    text = f"*{title}*\n{body}"
    blocks = [_section(p) for p in split_text(text, SECTION_TEXT_LIMIT)]
    return blocks, slack_len(text), cut


def _preamble(t: Transcript, info: ReplyInfo) -> tuple[list[dict[str, Any]], bool]:
    """Header, details, summary, key points, action items. → blocks, whether anything was cut."""
    blocks = [_header(_header_text(t, info)), _context(_details_text(info))]
    budget = PREAMBLE_TEXT_BUDGET
    any_cut = False
    parts = [
        ("Summary", escape_mrkdwn(t.summary.strip())),
        ("Key points", "\n".join(f"• {escape_mrkdwn(inline(p))}" for p in t.key_points)),
        ("Action items", "\n".join(f"• {escape_mrkdwn(inline(a))}" for a in t.action_items)),
    ]
    for title, body in parts:
        if not body.strip():
            continue
        if budget < 300:
            blocks.append(_context(f"_{title}: in the attached transcript.txt (no room here)._"))
            any_cut = True
            continue
        new_blocks, used, cut = _titled_sections(title, body, budget)
        blocks += new_blocks
        budget -= used
        any_cut = any_cut or cut
    return blocks, any_cut


@dataclass
class _Unit:
    """A turn (or a piece of one) rendered as one mrkdwn paragraph ≤ SECTION_TEXT_LIMIT."""

    text: str
    first: int  # index of the first segment it shows
    last: int  # index of the last segment it shows
    complete: bool  # whether segment `last` ends in this unit


def _turn_text(head: str, contents: list[str], translations: list[str]) -> str:
    text = f"{head}\n{' '.join(contents)}"
    if translations:
        text += f"\n_{' '.join(translations)}_"
    return text


def _segment_pieces(head: str, seg: Segment, index: int) -> list[_Unit]:
    """One segment too long for a section: split its content (and translation) by sentences."""
    cont_head = f"{head} _(continued)_"
    room = SECTION_TEXT_LIMIT - slack_len(cont_head) - 3
    content = split_text(escape_mrkdwn(inline(seg.content)), room)
    translation = (
        split_text(escape_mrkdwn(inline(seg.translation)), room) if seg.translation else []
    )
    texts = [f"{head if i == 0 else cont_head}\n{c}" for i, c in enumerate(content)]
    texts += [f"{cont_head}\n_{tr}_" for tr in translation]
    return [
        _Unit(text=x, first=index, last=index, complete=i == len(texts) - 1)
        for i, x in enumerate(texts)
    ]


def _transcript_units(t: Transcript) -> list[_Unit]:
    """Speaker turns (consecutive segments of one speaker), each ≤ one section."""
    units: list[_Unit] = []
    segs = t.segments
    i = 0
    while i < len(segs):
        speaker = inline(segs[i].speaker)
        head = f"*{speaker_name(segs[i].speaker)}* `{segs[i].timestamp}`"
        start = i
        contents: list[str] = []
        translations: list[str] = []
        while i < len(segs) and inline(segs[i].speaker) == speaker:
            content = escape_mrkdwn(inline(segs[i].content))
            tr = escape_mrkdwn(inline(segs[i].translation or ""))
            trial = _turn_text(
                head, [*contents, content], [*translations, tr] if tr else translations
            )
            if slack_len(trial) <= SECTION_TEXT_LIMIT:
                contents.append(content)
                if tr:
                    translations.append(tr)
                i += 1
                continue
            if contents:
                units.append(_Unit(_turn_text(head, contents, translations), start, i - 1, True))
            else:
                units += _segment_pieces(head, segs[i], i)
                i += 1
            contents, translations, start = [], [], i
            if i < len(segs):
                head = f"*{speaker_name(segs[i].speaker)}* `{segs[i].timestamp}`"
        if contents:
            units.append(_Unit(_turn_text(head, contents, translations), start, i - 1, True))
    return units


@dataclass
class _Section:
    text: str
    last: int
    complete: bool


def _transcript_sections(t: Transcript) -> list[_Section]:
    """Units packed into sections of ≤ SECTION_TEXT_LIMIT, one blank line between turns."""
    sections: list[_Section] = []
    for unit in _transcript_units(t):
        if sections and (
            slack_len(sections[-1].text) + 2 + slack_len(unit.text) <= SECTION_TEXT_LIMIT
        ):
            prev = sections[-1]
            sections[-1] = _Section(f"{prev.text}\n\n{unit.text}", unit.last, unit.complete)
        else:
            sections.append(_Section(unit.text, unit.last, unit.complete))
    return sections


@dataclass
class _Draft:
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def fits(self, text: str, *, budget: int = MESSAGE_TEXT_BUDGET) -> bool:
        return (
            len(self.blocks) + 1 + _RESERVED_BLOCKS <= MAX_BLOCKS
            and _blocks_length(self.blocks) + slack_len(text) + _RESERVED_CHARS <= budget
        )


def _fallback(text: str, note: str) -> str:
    return clip(text, FALLBACK_TEXT_LIMIT, marker=f"… {note}")


def plan_delivery(
    t: Transcript, info: ReplyInfo, *, max_thread_messages: int = 5, controls: bool = True
) -> Delivery:
    """The thread reply for a transcript: one message, a few, or an opening plus attachments;
    with `controls`, the first message carries the transcript's buttons and menus."""
    preamble, preamble_cut = _preamble(t, info)
    if controls:
        preamble = [*preamble, transcript_controls(t.languages)]
    sections = _transcript_sections(t)
    file_name = escape_mrkdwn(inline(info.file_name))
    summary = escape_mrkdwn(inline(t.summary)) or "(no summary)"
    first_text = f"{info.title} of {file_name} ({format_timestamp(info.duration_s)}): {summary}"

    drafts = [_Draft([*preamble, _DIVIDER])]
    if not sections:
        drafts[0].blocks.append(_context("_No speech was found in this recording._"))
    for sec in sections:
        if not drafts[-1].fits(sec.text):
            drafts.append(_Draft([]))
        drafts[-1].blocks.append(_section(sec.text))

    if not preamble_cut and len(drafts) <= max(1, max_thread_messages):
        total = len(drafts)
        messages: list[SlackMessage] = []
        for k, draft in enumerate(drafts, start=1):
            blocks = draft.blocks
            if k > 1:
                blocks = [_header(f"{info.title}, part {k} of {total}"), *blocks]
            if k < total:
                blocks = [*blocks, _context(f"_Continued in part {k + 1} of {total}, below._")]
            text = (
                _fallback(first_text, "(see thread)")
                if k == 1
                else f"{info.title} of {clip(file_name, 200)}, part {k} of {total}"
            )
            messages.append(SlackMessage(text=text, blocks=blocks))
        return Delivery(messages=messages, attachments=[])

    # Too long for the thread: the opening inline, the whole transcript as files.
    first = _Draft([*preamble, _DIVIDER])
    shown_last, shown_complete = -1, True
    for sec in sections:
        opening_budget = min(
            MESSAGE_TEXT_BUDGET,
            _blocks_length(preamble) + OPENING_TEXT_BUDGET + _RESERVED_CHARS,
        )
        if not first.fits(sec.text, budget=opening_budget):
            break
        first.blocks.append(_section(sec.text))
        shown_last, shown_complete = sec.last, sec.complete
    n = len(t.segments)
    shown = shown_last + 1 if shown_complete else shown_last
    opening = (
        f"Showing the first {shown} of {n} segments"
        + ("" if shown_complete else " and the beginning of the next")
        + "."
    )
    first.blocks.append(
        _context(
            f"_Full transcript attached ({plural(n, 'segment')}): "
            f"transcript.txt, transcript.vtt, transcript.srt. {opening}_"
        )
    )
    title = inline(info.file_name) or "recording"
    attachments = [
        Attachment(
            filename=f"transcript{ext}",
            title=f"{info.title} of {title}{kind}",  # titles tell them apart in a thread
            content=render(t, duration_s=info.duration_s),
        )
        for ext, kind, render in (
            (".txt", "", to_text),
            (".vtt", " (WebVTT subtitles)", to_vtt),
            (".srt", " (SRT subtitles)", to_srt),
        )
    ]
    tail = " (full transcript attached)"
    text = clip(first_text, FALLBACK_TEXT_LIMIT - len(tail), marker="… (see thread)") + tail
    return Delivery(
        messages=[SlackMessage(text=text, blocks=first.blocks)], attachments=attachments
    )


# ------------------------------------------------------------------- other replies


def render_failure(message: str, *, job_id: str | None = None) -> SlackMessage:
    """`:warning:` + what went wrong; a Retry button and the job id for support."""
    text = ":warning: " + escape_mrkdwn(message.strip())
    blocks = [_section(clip(text, SECTION_TEXT_LIMIT))]
    if job_id:
        retry = {
            "type": "button",
            "action_id": RETRY_ACTION,
            "text": {"type": "plain_text", "text": "Retry"},
            "value": job_id,
        }
        blocks.append({"type": "actions", "elements": [retry]})
        blocks.append(_context(f"Job `{escape_mrkdwn(inline(job_id))}`"))
    return SlackMessage(text=clip(text, FALLBACK_TEXT_LIMIT), blocks=blocks)


def render_status(mrkdwn: str) -> SlackMessage:
    """A job's status message; `mrkdwn` is already escaped (`bot.jobs.status`)."""
    text = ":hourglass_flowing_sand: " + mrkdwn
    return SlackMessage(text=clip(text, FALLBACK_TEXT_LIMIT), blocks=[_section(text)])


def render_answer(question: str, answer: str) -> SlackMessage:
    """An answer to a question about a recording, with the question quoted above it."""
    body = _MD_BOLD.sub(r"*\1*", escape_mrkdwn(answer.strip())) or "_(no answer)_"
    note = "\n_(answer cut here: it was too long for one message)_"
    budget = MESSAGE_TEXT_BUDGET - CONTEXT_TEXT_LIMIT - 100
    if slack_len(body) > budget:
        body = split_text(body, budget - slack_len(note))[0] + note
    pieces = split_text(body, SECTION_TEXT_LIMIT)
    asked = clip(escape_mrkdwn(inline(question)), 1000)
    blocks = [_context(f":speech_balloon: *Q:* {asked}"), *(_section(p) for p in pieces)]
    return SlackMessage(text=clip(body, FALLBACK_TEXT_LIMIT), blocks=blocks)
