"""Text for Slack mrkdwn: escaping, Slack's way of counting length, splitting, names.

Pure functions. Everything that came from audio or from users goes through
`escape_mrkdwn` before it reaches a message, so it can never ping `@channel` or a user.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?…。！？][\"')\]»”’]*\s")
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")

_LANGUAGE_NAMES = {
    "ar": "Arabic",
    "bn": "Bengali",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sv": "Swedish",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh": "Chinese",
}


def escape_mrkdwn(text: str) -> str:
    """Escape `&`, `<`, `>` so Slack shows them and never reads a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_len(text: str) -> int:
    """Length as Slack counts it (UTF-16 code units; an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int, marker: str = "…") -> str:
    """Cut `text` to `limit` (Slack length) and say so with `marker`; whole if it fits."""
    if slack_len(text) <= limit:
        return text
    room = limit - slack_len(marker)
    head = split_text(text, room)[0] if room > 0 else ""
    return head + marker


def _prefix_within(text: str, limit: int) -> int:
    """Longest prefix length (in code points) whose Slack length is ≤ limit."""
    k = min(len(text), limit)
    while k > 0 and slack_len(text[:k]) > limit:
        k -= max(1, (slack_len(text[:k]) - limit) // 2)
    return k


def split_text(text: str, limit: int) -> list[str]:
    """Split into pieces of ≤ `limit`: at line ends, else sentence ends, else spaces.

    Only a single word longer than `limit` is cut inside; never inside an `&amp;`.
    Whitespace at a break is dropped; no other character is lost.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while slack_len(rest) > limit:
        k = _prefix_within(rest, limit)
        window = rest[: k + 1]  # a break just after the limit is fine
        cut = window.rfind("\n", 0, k + 1)
        if cut < k // 3:
            ends = [m.end() - 1 for m in _SENTENCE_END.finditer(window)]
            cut = ends[-1] if ends and ends[-1] >= k // 2 else -1
        if cut < k // 3:
            cut = max(window.rfind(" ", 0, k + 1), -1)
        if cut <= 0:
            cut = k
            partial = _PARTIAL_ENTITY.search(rest[:cut])
            if partial and partial.start() > 0:
                cut = partial.start()
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def inline(text: str) -> str:
    return " ".join(text.split())


def speaker_name(label: str) -> str:
    # Asterisks or backticks in a name would end the bold or open a code span.
    name = inline(label).replace("*", "").replace("`", "'")
    return escape_mrkdwn(name or "Unknown")


def language_name(code: str) -> str:
    clean = re.sub(r"[^A-Za-z\-_ ]", "", code).strip()
    base = clean.replace("_", "-").split("-")[0].lower()
    return _LANGUAGE_NAMES.get(base, clean)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
