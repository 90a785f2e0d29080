"""Parsing `/transcribe` arguments and Slack links (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_LANG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
# https://team.slack.com/archives/C0123/p1700000000000100?thread_ts=1700000000.000050&cid=C0123
_HOST = r"https://(?P<host>(?:[\w-]+\.)*slack\.com)"
_MESSAGE_LINK = re.compile(
    _HOST + r"/archives/(?P<channel>[CGD][A-Z0-9]+)/p(?P<sec>\d{10})(?P<frac>\d{6})"
    r"(?:\?(?P<query>[^>|\s]*))?"
)
# https://team.slack.com/files/U0123/F0456/name.m4a
_FILE_LINK = re.compile(_HOST + r"/files/[UW][A-Z0-9]+/(?P<file>F[A-Z0-9]+)")
_THREAD_TS = re.compile(r"thread_ts=(\d{10}\.\d{6})")
# A term: "quoted words" (straight or Slack's curly quotes) or one word.
_TERM = re.compile(r'"([^"]*)"|“([^”]*)”|(\S+)')

#: A channel's vocabulary goes into every prompt: these bound its share of the hints.
MAX_VOCABULARY_TERMS = 50
MAX_TERM_CHARS = 40


@dataclass(frozen=True)
class MessageLink:
    channel_id: str
    ts: str
    thread_ts: str | None
    host: str = ""


@dataclass(frozen=True)
class Command:
    action: Literal[
        "latest", "message", "file", "help", "auto", "language", "translate", "vocabulary", "usage"
    ]
    value: str | bool | None = None
    message: MessageLink | None = None
    #: The host of a message or file link (`team.slack.com`), to spot other workspaces.
    link_host: str = ""
    #: `vocabulary add|remove`: the terms given.
    terms: tuple[str, ...] = ()
    #: A link's options for this request only: `language <code>`, `translate <code>`.
    language: str | None = None
    translate_to: str | None = None


USAGE = (
    "Usage: `/transcribe` (latest recording here) · `/transcribe <message or file link> "
    "[language <code>] [translate <code>]` · "
    "`/transcribe help` · `/transcribe auto on|off` · `/transcribe language <code>|auto` · "
    "`/transcribe translate <code>|off` · `/transcribe vocabulary add|remove|list <terms>`"
)
VOCABULARY_USAGE = (
    "`/transcribe vocabulary add <term> …` (quote terms of several words: "
    '`add Kubernetes "Ana Lucía"`) · `/transcribe vocabulary remove <term>` · '
    f"`/transcribe vocabulary list`. At most {MAX_VOCABULARY_TERMS} terms per channel, "
    f"each up to {MAX_TERM_CHARS} characters."
)


def parse_message_link(text: str) -> MessageLink | None:
    m = _MESSAGE_LINK.search(text)
    if not m:
        return None
    thread = _THREAD_TS.search(m.group("query") or "")
    return MessageLink(
        channel_id=m.group("channel"),
        ts=f"{m.group('sec')}.{m.group('frac')}",
        thread_ts=thread.group(1) if thread else None,
        host=m.group("host").lower(),
    )


def parse_file_link(text: str) -> tuple[str, str] | None:
    """(file id, host) of a Slack file link."""
    m = _FILE_LINK.search(text)
    return (m.group("file"), m.group("host").lower()) if m else None


def is_other_workspace(link_host: str, team_domain: str) -> bool:
    """Does a link's host name another workspace than `team_domain`?

    Only a plain `<team>.slack.com` host is judged; anything else (`app.slack.com`,
    Enterprise Grid org hosts) is left to the Web API to accept or refuse.
    """
    parts = link_host.lower().split(".")
    if not team_domain or len(parts) != 3 or parts[0] in ("app", "www"):
        return False
    return parts[0] != team_domain.lower()


def parse_command(text: str) -> Command:
    """`/transcribe` text → what to do. Unknown input → `usage`."""
    stripped = text.strip()
    words = stripped.split()
    if not words:
        return Command("latest")
    head = words[0].lower()
    if head == "help" and len(words) == 1:
        return Command("help")
    if head == "auto":
        if len(words) == 2 and words[1].lower() in ("on", "off"):
            return Command("auto", words[1].lower() == "on")
        return Command("usage", "`/transcribe auto` takes `on` or `off`.")
    if head in ("language", "translate"):
        action: Literal["language", "translate"] = "language" if head == "language" else "translate"
        off = "auto" if action == "language" else "off"
        if len(words) == 2 and words[1].lower() == off:
            return Command(action, None)
        if len(words) == 2 and _LANG.match(words[1]):
            return Command(action, words[1])
        return Command(
            "usage",
            f"`/transcribe {head}` takes a language code such as `en`, `de` or `pt-BR`, "
            f"or `{off}`.",
        )
    if head == "vocabulary":
        return parse_vocabulary(stripped[len(words[0]) :])
    link = parse_message_link(words[0])
    file_link = None if link is not None else parse_file_link(words[0])
    if link is None and file_link is None:
        return Command("usage")
    options = _request_options(words[1:])
    if isinstance(options, str):
        return Command("usage", options)
    language, translate_to = options
    if link is not None:
        return Command(
            "message",
            message=link,
            link_host=link.host,
            language=language,
            translate_to=translate_to,
        )
    assert file_link is not None
    return Command(
        "file",
        file_link[0],
        link_host=file_link[1],
        language=language,
        translate_to=translate_to,
    )


def _request_options(words: list[str]) -> tuple[str | None, str | None] | str:
    """`language de translate en` after a link → (language, translation); else what's wrong."""
    found: dict[str, str] = {}
    pairs = list(zip(words[::2], words[1::2], strict=False))
    if len(words) % 2 or any(
        name.lower() not in ("language", "translate") or not _LANG.match(code)
        for name, code in pairs
    ):
        return (
            "After the link, only `language <code>` and `translate <code>` (codes such as "
            "`en`, `de` or `pt-BR`) may follow."
        )
    for name, code in pairs:
        found[name.lower()] = code
    return found.get("language"), found.get("translate")


def parse_terms(text: str) -> list[str]:
    """`Kubernetes "Ana Lucía"` → `["Kubernetes", "Ana Lucía"]`; Slack's escapes undone."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    terms = [" ".join((m[1] or m[2] or m[3] or "").split()) for m in _TERM.finditer(text)]
    return [t for t in terms if t]


def parse_vocabulary(rest: str) -> Command:
    """The words after `/transcribe vocabulary`."""
    sub, _, tail = rest.strip().partition(" ")
    sub = sub.lower()
    terms = parse_terms(tail)
    if sub == "list" and not terms:
        return Command("vocabulary", "list")
    if sub in ("add", "remove") and terms:
        if sub == "remove" and len(terms) > 1:
            # `remove Ana Lucía` means the two-word term, not two terms.
            terms = [" ".join(terms)]
        too_long = [t for t in terms if len(t) > MAX_TERM_CHARS]
        if too_long:
            return Command(
                "usage",
                f"A term may be at most {MAX_TERM_CHARS} characters; "
                f"{len(too_long)} of those are longer.",
            )
        return Command("vocabulary", sub, terms=tuple(terms))
    return Command("usage", VOCABULARY_USAGE)


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """The text of an app_mention without the leading `<@BOT>`."""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")
    return re.sub(r"^\s*<@[UW][A-Z0-9]+>\s*", "", text).strip()
