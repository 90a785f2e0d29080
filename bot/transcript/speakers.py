"""Speaker labels: one spelling per voice, the sharer's name for a lone voice, rosters,
and names Gemini heard mapped onto the Slack people hinted to it.

Gemini numbers speakers per request ("Speaker 1", "speaker_1", "SPEAKER 01"); names it
heard are kept. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.transcript.model import Transcript

_GENERIC_SPEAKER = re.compile(r"^\s*speaker[\s_\-#]*0*(\d+)\s*$", re.IGNORECASE)
_UNKNOWN_SPEAKER = "Unknown"


def normalise_label(label: str) -> str:
    """`speaker_01`, ` Speaker1 ` → `Speaker 1`; empty → `Unknown`; names unchanged."""
    label = " ".join(label.split())
    if not label:
        return _UNKNOWN_SPEAKER
    m = _GENERIC_SPEAKER.match(label)
    if m:
        return f"Speaker {int(m.group(1))}"
    return label


def unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


@dataclass(frozen=True)
class Person:
    """A Slack person hinted to Gemini: who a named speaker may be."""

    user_id: str
    display_name: str
    real_name: str = ""

    @property
    def shown_name(self) -> str:
        """What a transcript calls them: their Slack display name (plain text, no ping)."""
        return self.display_name or self.real_name

    def answers_to(self, label: str) -> bool:
        """Whether a speaker label names this person: a whole name, or a first name."""
        key = label.casefold()
        for name in (self.display_name, self.real_name):
            name = " ".join(name.split()).casefold()
            if name and (key == name or key == name.split()[0]):
                return True
        return False


def person_for(label: str, people: Sequence[Person]) -> Person | None:
    """The one hinted person a label names; None for no match, or two people (no guess)."""
    if not label or _GENERIC_SPEAKER.match(label) or label == _UNKNOWN_SPEAKER:
        return None
    found = {p.user_id: p for p in people if p.answers_to(label)}
    return next(iter(found.values())) if len(found) == 1 else None


def apply_speaker_names(
    t: Transcript, *, uploader_name: str | None, people: Sequence[Person] = ()
) -> Transcript:
    """Normalise speaker labels; a lone speaker in a clip someone uploaded is that person.

    With more than one speaker, names Gemini gave are kept and `Speaker N` labels keep
    their numbers (they are already referred to in the summary); a name that matches
    exactly one of `people` (the hinted Slack people) becomes that person's display name.
    `speakers` becomes the labels in order of first appearance.
    """
    labels = [normalise_label(s.speaker) for s in t.segments]
    distinct = unique(labels)
    name = " ".join((uploader_name or "").split())
    if len(distinct) == 1 and name:
        labels = [name] * len(labels)
        distinct = [name]
    elif people:
        shown = {label: person_for(label, people) for label in distinct}
        labels = [p.shown_name if (p := shown[label]) else label for label in labels]
        distinct = unique(labels)
    segments = [
        seg.model_copy(update={"speaker": label})
        for seg, label in zip(t.segments, labels, strict=True)
    ]
    return t.model_copy(update={"segments": segments, "speakers": distinct})


def match_roster(label: str, roster: list[str]) -> str:
    """Map a chunk's label onto the roster; keep it when nothing matches (a new voice)."""
    if label in roster:
        return label
    key = label.casefold()
    for name in roster:
        if normalise_label(name).casefold() == key:
            return name
    for name in roster:
        other = normalise_label(name).casefold()
        if _GENERIC_SPEAKER.match(label) is None and (
            _contains_word(other, key) or _contains_word(key, other)
        ):
            return name
    m = _GENERIC_SPEAKER.match(label)
    if m:
        # The prompt hands Gemini the roster in order; a bare "Speaker N" in a later
        # chunk is its N-th entry.
        n = int(m.group(1))
        if 1 <= n <= len(roster):
            return roster[n - 1]
    return label


def _contains_word(haystack: str, needle: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None
