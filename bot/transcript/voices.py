"""One voice, one label across the chunks of a long recording (pure functions).

The roster pass describes each voice of the first chunk ("Ana: low voice, chairs the
meeting"); every chunk gets those descriptions and answers with its own voices
described. A voice that is in no roster gets a label of its chunk's choosing, so the
same newcomer can be "Speaker 3" in one chunk and "Speaker 4" in the next, and two
newcomers can both be "Speaker 3". When voices outside the roster turn up in more
than one chunk, one text-only request (`reconcile_prompt`) groups them by their
descriptions; `assign_labels` gives each group one label no other voice has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.transcript.model import Transcript
from bot.transcript.speakers import match_roster, normalise_label

_GROUP_LINE = re.compile(r"^\s*[-*]?\s*((?:V\d+[\s,]*)+)(?:=\s*(.+?))?\s*$", re.IGNORECASE)
_GENERIC = re.compile(r"^Speaker \d+$")


@dataclass(frozen=True)
class RosterVoice:
    """A voice as the roster knows it: its label and how to recognise it."""

    label: str
    description: str = ""


def parse_roster(entries: list[str]) -> list[RosterVoice]:
    """`["Ana: low voice, chairs", "Speaker 2"]` → voices; duplicate labels dropped."""
    voices: list[RosterVoice] = []
    seen: set[str] = set()
    for entry in entries:
        label, _, description = entry.partition(":")
        label = normalise_label(label)
        if label in seen or label == "Unknown":
            continue
        seen.add(label)
        voices.append(RosterVoice(label, " ".join(description.split())))
    return voices


def new_voices(parts: list[Transcript], roster: list[RosterVoice]) -> list[tuple[int, RosterVoice]]:
    """(1-based part, voice) for every label a part used that maps onto no roster voice."""
    labels = [v.label for v in roster]
    found: list[tuple[int, RosterVoice]] = []
    for index, part in enumerate(parts, start=1):
        described = {normalise_label(v.label): v.description for v in part.voices}
        seen: set[str] = set()
        for segment in part.segments:
            label = normalise_label(segment.speaker)
            if label in seen:
                continue
            seen.add(label)
            if labels and match_roster(label, labels) in labels:
                continue
            found.append((index, RosterVoice(label, " ".join(described.get(label, "").split()))))
    return found


def needs_reconciling(new: list[tuple[int, RosterVoice]]) -> bool:
    """Only newcomers in two or more parts can be mislabelled across parts."""
    return len({part for part, _ in new}) > 1


def parse_groups(answer: str, count: int, roster: list[RosterVoice]) -> list[tuple[list[int], str]]:
    """The reconciliation answer → [(0-based entry indices, roster label or "")].

    Entries the answer leaves out, repeats, or numbers past `count` are ignored here:
    `assign_labels` keeps their chunk's label for those.
    """
    labels = {v.label.casefold(): v.label for v in roster}
    groups: list[tuple[list[int], str]] = []
    used: set[int] = set()
    for line in answer.splitlines():
        m = _GROUP_LINE.match(line)
        if not m:
            continue
        members = [int(n) - 1 for n in re.findall(r"\d+", m.group(1))]
        members = [n for n in members if 0 <= n < count and n not in used]
        if not members:
            continue
        used.update(members)
        target = (m.group(2) or "").strip().strip("\"'`<>")
        groups.append((members, labels.get(normalise_label(target).casefold(), "")))
    return groups


def assign_labels(
    new: list[tuple[int, RosterVoice]],
    groups: list[tuple[list[int], str]],
    roster: list[RosterVoice],
) -> dict[tuple[int, str], str]:
    """(part, chunk label) → the recording's label for each newcomer.

    A group that is a roster voice takes its label; a group with a name takes the first
    name; the rest get `Speaker N` numbers past the roster's, none used twice. Entries
    in no group keep their label unless another voice already took it.
    """
    taken = {v.label for v in roster}
    mapping: dict[tuple[int, str], str] = {}
    grouped: set[int] = set()
    order = sorted(groups, key=lambda g: min(g[0]))
    for members, roster_label in order:
        grouped.update(members)
        names = [new[i][1].label for i in members if not _GENERIC.match(new[i][1].label)]
        label = roster_label or next((n for n in names if n not in taken), "")
        if not label:
            label = _next_generic(taken, len(roster) + 1)
        taken.add(label)
        for i in members:
            mapping[(new[i][0], new[i][1].label)] = label
    for i, (part, voice) in enumerate(new):
        if i in grouped:
            continue
        label = voice.label if voice.label not in taken else _next_generic(taken, len(roster) + 1)
        taken.add(label)
        mapping[(part, voice.label)] = label
    return mapping


def _next_generic(taken: set[str], n: int) -> str:
    while f"Speaker {n}" in taken:
        n += 1
    return f"Speaker {n}"


def relabel(part: Transcript, index: int, mapping: dict[tuple[int, str], str]) -> Transcript:
    """Part `index`'s transcript with its newcomers' labels replaced by the recording's."""
    segments = [
        s.model_copy(
            update={"speaker": mapping.get((index, normalise_label(s.speaker)), s.speaker)}
        )
        for s in part.segments
    ]
    return part.model_copy(update={"segments": segments})
