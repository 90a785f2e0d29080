"""A recording with known voices, answered the way a listening model would (for the emulator).

`VoicedRecording` knows who speaks when in a whole recording. Set it as
`GeminiEmulator.voices` and the emulator answers, for requests no script covers:

- a **roster** request (schema with `speakers`, no `segments`) with the voices of the
  audio it got (the first chunk), as `label: description` when the prompt asks for
  descriptions, else labels only;
- a **transcription** request for part i of n (from the prompt) with the turns of that
  part of the recording, one segment per turn, content `(voice key) text` so tests know
  the truth, and `voices` describing each label used;
- the **reconciliation** request (plain text listing `V1. part 3, "Speaker 3": …`) by
  grouping the entries whose descriptions are the same voice.

How it labels a voice in a transcription request, like a model that can only compare
what it hears with what it is told: a roster entry whose description is this voice's
→ that label; else the voice's name if someone says it (spelled as the prompt's hints
spell it when they mention it, else as heard); else, when the roster has labels without
descriptions, the next unused roster label (a guess, in order of appearance); else
`Speaker N` past the roster, numbered per request in order of appearance. Invented,
but it makes the failure real: a per-request label cannot tell Gemini which voice is
which in another chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_PART = re.compile(r"This audio is part (\d+) of (\d+) of a longer recording")
_ROSTER_NAMES = re.compile(r"^\s*Speakers:\s*(.+?)\s*$", re.MULTILINE)
_ROSTER_ENTRY = re.compile(r"^- (.+?): (.+)$", re.MULTILINE)
_NEW_VOICE = re.compile(r'^V(\d+)\. part (\d+), "(.+?)": (.*)$', re.MULTILINE)
RECONCILE_OPENING = "A long recording was transcribed in parts."


@dataclass(frozen=True)
class Voice:
    """A person in the recording: how they sound, and the name others call them, if any."""

    description: str
    #: The name as the team spells it; `heard_as` is how it sounds to a listener.
    name: str = ""
    heard_as: str = ""


@dataclass
class VoicedRecording:
    """Who speaks when: `turns` are (start second of the whole recording, voice key, text)."""

    duration_s: float
    voices: dict[str, Voice]
    turns: list[tuple[float, str, str]]
    #: Requests answered, by kind ("roster", "transcription", "reconcile").
    answered: list[str] = field(default_factory=list)

    def answer(self, texts: list[str], audio_seconds: float, schema: Any) -> Any:
        """The answer to one request, or None when it is not one of this recording's."""
        prompt = "\n".join(texts)
        if schema is None and RECONCILE_OPENING in prompt:
            self.answered.append("reconcile")
            return self._reconcile(prompt)
        if not audio_seconds or not isinstance(schema, dict):
            return None
        props = schema.get("properties") or {}
        part = _PART.search(prompt)
        if part:
            index, total = int(part[1]), int(part[2])
            start = (index - 1) * self.duration_s / total
            end = index * self.duration_s / total
        else:
            start, end = 0.0, audio_seconds
        turns = [t for t in self.turns if start <= t[0] < end]
        labels = self._labels([key for _, key, _ in turns], prompt)
        if "segments" not in props:
            self.answered.append("roster")
            described = "description" in prompt
            order = list(dict.fromkeys(key for _, key, _ in turns))
            return {
                "speakers": [
                    f"{labels[k]}: {self.voices[k].description}" if described else labels[k]
                    for k in order
                ]
            }
        self.answered.append("transcription")
        return _transcript(turns, labels, start, self.voices)

    def _labels(self, keys: list[str], prompt: str) -> dict[str, str]:
        roster = _roster(prompt)
        by_description = {d: label for label, d in roster if d}
        undescribed = [label for label, d in roster if not d]
        labels: dict[str, str] = {}
        newcomers = 0
        for key in dict.fromkeys(keys):
            voice = self.voices[key]
            if voice.description in by_description:
                labels[key] = by_description[voice.description]
            elif voice.name:
                labels[key] = voice.name if voice.name in prompt else voice.heard_as or voice.name
            elif undescribed:
                labels[key] = undescribed.pop(0)
            else:
                newcomers += 1
                labels[key] = f"Speaker {len(roster) + newcomers}"
        return labels

    def _reconcile(self, prompt: str) -> str:
        roster = {d: label for label, d in _ROSTER_ENTRY.findall(prompt.split("New voices:")[0])}
        groups: dict[str, list[str]] = {}
        for number, _part, _label, description in _NEW_VOICE.findall(prompt):
            groups.setdefault(description.strip(), []).append(f"V{number}")
        lines = []
        for description, members in groups.items():
            known = roster.get(description)
            lines.append(" ".join(members) + (f" = {known}" if known else ""))
        return "\n".join(lines)


def _roster(prompt: str) -> list[tuple[str, str]]:
    """(label, description) the prompt hands over; description "" when only labels."""
    names = _ROSTER_NAMES.search(prompt)
    if not names:
        return []
    described = dict(_ROSTER_ENTRY.findall(prompt))
    labels = [n.strip() for n in names[1].split(",") if n.strip()]
    return [(label, described.get(label, "").strip()) for label in labels]


def _transcript(
    turns: list[tuple[float, str, str]],
    labels: dict[str, str],
    start: float,
    voices: dict[str, Voice],
) -> dict[str, Any]:
    def stamp(seconds: float) -> str:
        total = max(0, int(seconds))
        hours, rest = divmod(total, 3600)
        return (f"{hours}:" if hours else "") + f"{rest // 60:02d}:{rest % 60:02d}"

    segments = [
        {
            "speaker": labels[key],
            "timestamp": stamp(at - start),
            "content": f"({key}) {text}",
            "language": "en",
            "translation": None,
            "emotion": "neutral",
        }
        for at, key, text in turns
    ]
    used = list(dict.fromkeys(labels[key] for _, key, _ in turns))
    return {
        "summary": f"{len(segments)} turns by {len(used)} voices.",
        "key_points": [],
        "action_items": [],
        "languages": ["en"],
        "speakers": used,
        "voices": [
            {"label": labels[k], "description": voices[k].description}
            for k in dict.fromkeys(key for _, key, _ in turns)
        ],
        "segments": segments,
    }
