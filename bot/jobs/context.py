"""What Slack knows about the room a recording was shared in, gathered as hints for Gemini.

The channel's name, topic and purpose (`conversations.info`), the text of the message
that carried the file and the thread's people (`conversations.replies`), the first
`MAX_MEMBERS` channel members (`conversations.members`, paged), their names
(`users.info`, cached per Slack client), and the channel's vocabulary (the store).

Hints help; they are never needed: any failure here is logged and the job goes on
without them (`gather_context` returns None), and the whole gathering is bounded in
time. Rendering and the token budget are `bot.gemini.prompts.render_hints`'s.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.gemini.prompts import RoomHints
from bot.transcript.speakers import Person

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.jobs.services import JobServices
    from bot.jobs.spec import Job

logger = logging.getLogger(__name__)

#: Channel members looked up per job: a big channel's full list would cost a users.info
#: call each (Tier 4, ~100 a minute) and would not fit the hint budget anyway.
MAX_MEMBERS = 50
#: Thread messages read for the message text and the thread's people.
MAX_THREAD_MESSAGES = 100
#: The most time gathering may take before the job goes on without hints.
GATHER_TIMEOUT_S = 10.0
#: users.info calls in flight at once, per job.
_LOOKUPS_AT_ONCE = 8
#: How long a looked-up name is trusted; people rarely rename themselves.
_NAME_TTL_S = 3600.0
_NAME_CACHE_SIZE = 5000

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LABELLED = re.compile(r"<[^>|]*\|([^>]*)>")
_BARE = re.compile(r"<([^>]*)>")


@dataclass(frozen=True)
class RoomContext:
    """The hints sent to Gemini and the people a speaker's name may be matched to."""

    hints: RoomHints
    people: tuple[Person, ...]


class _NameCache:
    """users.info answers by user id, for one Slack client (one workspace token)."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, Person | None]] = {}

    def get(self, user_id: str) -> tuple[bool, Person | None]:
        hit = self.entries.get(user_id)
        if hit is None or time.monotonic() - hit[0] > _NAME_TTL_S:
            return False, None
        return True, hit[1]

    def put(self, user_id: str, person: Person | None) -> None:
        if len(self.entries) >= _NAME_CACHE_SIZE:
            self.entries.clear()  # a crude bound: names are cheap to look up again
        self.entries[user_id] = (time.monotonic(), person)


_caches: weakref.WeakKeyDictionary[Any, _NameCache] = weakref.WeakKeyDictionary()


async def gather_context(s: JobServices, job: Job, file: dict[str, Any]) -> RoomContext | None:
    """The room's hints for `job`, or None when Slack could not be read (logged)."""
    try:
        async with asyncio.timeout(GATHER_TIMEOUT_S):
            return await _gather(s, job, file)
    except Exception:
        logger.exception("could not gather Slack context for the prompt; going on without")
        return None


async def _gather(s: JobServices, job: Job, file: dict[str, Any]) -> RoomContext:
    slack = s.slack
    channel = job.channel_id
    info, thread, members, vocabulary = await asyncio.gather(
        _optional(slack.conversations_info(channel=channel)),
        _thread(slack, channel, job.thread_ts or job.message_ts),
        _members(slack, channel),
        s.store.get_vocabulary(channel),
    )
    conversation = (info or {}).get("channel") or {}
    sharer_id = str(file.get("user") or job.user_id or "")
    message = next((m for m in thread if m.get("ts") == job.message_ts), None)
    participants = [str(m["user"]) for m in thread if m.get("user")]
    wanted = _unique([sharer_id, *participants, *members])
    people = await _people(slack, wanted)
    by_id = {p.user_id: p for p in people}

    def names(ids: list[str]) -> tuple[str, ...]:
        return tuple(_described(by_id[i]) for i in _unique(ids) if i in by_id)

    text = _plain_text(str((message or {}).get("text") or ""), by_id)
    hints = RoomHints(
        channel_name=str(conversation.get("name") or "") if not conversation.get("is_im") else "",
        topic=str((conversation.get("topic") or {}).get("value") or ""),
        purpose=str((conversation.get("purpose") or {}).get("value") or ""),
        message_text=text,
        sharer=_described(by_id[sharer_id]) if sharer_id in by_id else "",
        participants=names([p for p in participants if p != sharer_id]),
        members=names([m for m in members if m != sharer_id and m not in participants]),
        vocabulary=tuple(vocabulary),
    )
    return RoomContext(hints=hints, people=tuple(people))


async def _optional(call: Any) -> dict[str, Any] | None:
    """A Slack read whose failure only costs a hint."""
    try:
        return dict((await call).data)
    except SlackApiError as exc:
        logger.info("Slack read for hints failed: %s", exc.response.get("error"))
        return None


async def _thread(slack: AsyncWebClient, channel: str, ts: str) -> list[dict[str, Any]]:
    if not ts:
        return []
    resp = await _optional(
        slack.conversations_replies(channel=channel, ts=ts, limit=MAX_THREAD_MESSAGES)
    )
    messages = (resp or {}).get("messages") or []
    return [m for m in messages if isinstance(m, dict)]


async def _members(slack: AsyncWebClient, channel: str) -> list[str]:
    """The first MAX_MEMBERS members, following `next_cursor` while short."""
    members: list[str] = []
    cursor = ""
    while len(members) < MAX_MEMBERS:
        kwargs: dict[str, Any] = {"channel": channel, "limit": MAX_MEMBERS - len(members)}
        if cursor:
            kwargs["cursor"] = cursor
        resp = await _optional(slack.conversations_members(**kwargs))
        if resp is None:
            break
        members.extend(str(m) for m in resp.get("members") or [])
        cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            break
    return members[:MAX_MEMBERS]


async def _people(slack: AsyncWebClient, user_ids: list[str]) -> list[Person]:
    """Names of `user_ids` (bots and deactivated accounts left out), cached per client."""
    cache = _caches.setdefault(slack, _NameCache())
    slots = asyncio.Semaphore(_LOOKUPS_AT_ONCE)

    async def one(user_id: str) -> Person | None:
        known, person = cache.get(user_id)
        if known:
            return person
        async with slots:
            resp = await _optional(slack.users_info(user=user_id))
        if resp is None:
            return None  # not cached: a rate limit now says nothing about later
        person = _person(resp.get("user") or {})
        cache.put(user_id, person)
        return person

    found = await asyncio.gather(*(one(u) for u in user_ids if u))
    return [p for p in found if p is not None]


def _person(user: dict[str, Any]) -> Person | None:
    if not user or user.get("is_bot") or user.get("deleted") or user.get("id") == "USLACKBOT":
        return None
    profile = user.get("profile") or {}
    display = str(profile.get("display_name") or "").strip()
    real = str(profile.get("real_name") or user.get("real_name") or "").strip()
    if not display and not real:
        return None
    return Person(user_id=str(user.get("id") or ""), display_name=display, real_name=real)


def _described(p: Person) -> str:
    """`Bob (Bob Marley)`: the display name, and the real name when it says more."""
    if p.display_name and p.real_name and p.real_name.casefold() != p.display_name.casefold():
        return f"{p.display_name} ({p.real_name})"
    return p.shown_name


def _plain_text(text: str, people: dict[str, Person]) -> str:
    """Slack mrkdwn → what a person reads: `<@U1>` → `@Bob`, `<url|label>` → `label`."""
    text = _MENTION.sub(
        lambda m: "@" + (p.shown_name if (p := people.get(m[1])) else "someone"), text
    )
    text = _LABELLED.sub(lambda m: m[1], text)
    text = _BARE.sub(lambda m: m[1].lstrip("!#@"), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
