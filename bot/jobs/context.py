"""What Slack knows about the room a recording was shared in, gathered as hints for Gemini.

The channel's name, topic and purpose (`conversations.info`), the text of the message
that carried the file and the thread's people (`conversations.replies`), the first
`MAX_MEMBERS` channel members (`conversations.members`, paged), their names
(`users.info`), and the channel's vocabulary (the store). Channels and names are cached
per Slack client, and hint reads take only a share of Slack's rate limits (`_Reads`).

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
GATHER_TIMEOUT_S = 5.0
#: The hints' share of Slack's per-method limits (calls a minute, per process): under
#: half of each method's tier, so the calls jobs need keep the rest.
HINT_CALLS_PER_MINUTE = {
    "conversations.info": 20.0,  # Tier 3 (50+)
    "conversations.replies": 20.0,  # Tier 3
    "conversations.members": 40.0,  # Tier 4 (100+)
    "users.info": 50.0,  # Tier 4
}
#: How long a channel's name, topic, purpose and members are reused.
CHANNEL_TTL_S = 600.0
#: How long a looked-up name is trusted; people rarely rename themselves.
_NAME_TTL_S = 3600.0
#: users.info calls in flight at once, per job.
_LOOKUPS_AT_ONCE = 8
_CACHE_SIZE = 5000

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LABELLED = re.compile(r"<[^>|]*\|([^>]*)>")
_BARE = re.compile(r"<([^>]*)>")


@dataclass(frozen=True)
class RoomContext:
    """The hints sent to Gemini and the people a speaker's name may be matched to."""

    hints: RoomHints
    people: tuple[Person, ...]


class _Bucket:
    """A token bucket: `per_minute` calls a minute, as bursty as Slack allows (a minute's)."""

    def __init__(self, per_minute: float) -> None:
        self.capacity = self.tokens = per_minute
        self.refill_per_s = per_minute / 60
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class _Reads:
    """Hint reads through one Slack client: cached answers, and a share of its rate limits.

    Slack limits each method per workspace (conversations.info and .replies ~50 a minute,
    conversations.members and users.info ~100). Hints are worth less than the calls jobs
    need (files.info, history, posting), so they get at most `HINT_CALLS_PER_MINUTE` of
    each: past that a hint is left out at once instead of waiting out a 429.
    """

    def __init__(self, slack: AsyncWebClient) -> None:
        self.slack = slack
        self.names: dict[str, tuple[float, Person | None]] = {}
        self.channels: dict[str, tuple[float, dict[str, Any] | None, list[str]]] = {}
        self.buckets = {m: _Bucket(n) for m, n in HINT_CALLS_PER_MINUTE.items()}

    async def call(self, method: str, **params: Any) -> dict[str, Any] | None:
        """One Web API read; None when it failed or the hints' share is used up."""
        if not self.buckets[method].take():
            logger.info("hint read %s skipped: the hints' share of its rate limit is used", method)
            return None
        try:
            resp = await getattr(self.slack, method.replace(".", "_"))(**params)
        except SlackApiError as exc:
            logger.info("Slack read for hints failed: %s", exc.response.get("error"))
            return None
        return dict(resp.data)

    async def channel(self, channel_id: str) -> tuple[dict[str, Any] | None, list[str]]:
        """conversations.info's channel and the first members, cached for CHANNEL_TTL_S."""
        hit = self.channels.get(channel_id)
        if hit is not None and time.monotonic() - hit[0] <= CHANNEL_TTL_S:
            return hit[1], hit[2]
        info, members = await asyncio.gather(
            self.call("conversations.info", channel=channel_id), self._members(channel_id)
        )
        conversation = (info or {}).get("channel")
        if info is not None:
            if len(self.channels) >= _CACHE_SIZE:
                self.channels.clear()
            self.channels[channel_id] = (time.monotonic(), conversation, members)
        return conversation, members

    async def thread(self, channel_id: str, ts: str) -> list[dict[str, Any]]:
        if not ts:
            return []
        resp = await self.call(
            "conversations.replies", channel=channel_id, ts=ts, limit=MAX_THREAD_MESSAGES
        )
        return [m for m in (resp or {}).get("messages") or [] if isinstance(m, dict)]

    async def _members(self, channel_id: str) -> list[str]:
        """The first MAX_MEMBERS members, following `next_cursor` while short."""
        members: list[str] = []
        cursor = ""
        while len(members) < MAX_MEMBERS:
            params: dict[str, Any] = {"channel": channel_id, "limit": MAX_MEMBERS - len(members)}
            if cursor:
                params["cursor"] = cursor
            resp = await self.call("conversations.members", **params)
            if resp is None:
                break
            members.extend(str(m) for m in resp.get("members") or [])
            cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return members[:MAX_MEMBERS]

    async def people(self, user_ids: list[str]) -> list[Person]:
        """Names of `user_ids` (bots and deactivated accounts left out), cached."""
        slots = asyncio.Semaphore(_LOOKUPS_AT_ONCE)

        async def one(user_id: str) -> Person | None:
            hit = self.names.get(user_id)
            if hit is not None and time.monotonic() - hit[0] <= _NAME_TTL_S:
                return hit[1]
            async with slots:
                resp = await self.call("users.info", user=user_id)
            if resp is None:
                return None  # not cached: a refusal now says nothing about later
            person = _person(resp.get("user") or {})
            if len(self.names) >= _CACHE_SIZE:
                self.names.clear()  # a crude bound: names are cheap to look up again
            self.names[user_id] = (time.monotonic(), person)
            return person

        found = await asyncio.gather(*(one(u) for u in user_ids if u))
        return [p for p in found if p is not None]


_reads: weakref.WeakKeyDictionary[Any, _Reads] = weakref.WeakKeyDictionary()


async def gather_context(s: JobServices, job: Job, file: dict[str, Any]) -> RoomContext | None:
    """The room's hints for `job`, or None when Slack could not be read (logged)."""
    try:
        async with asyncio.timeout(GATHER_TIMEOUT_S):
            return await _gather(s, job, file)
    except Exception:
        logger.exception("could not gather Slack context for the prompt; going on without")
        return None


async def _gather(s: JobServices, job: Job, file: dict[str, Any]) -> RoomContext:
    reads = _reads.get(s.slack)
    if reads is None:
        reads = _reads[s.slack] = _Reads(s.slack)
    channel = job.channel_id
    (conversation, members), thread, vocabulary = await asyncio.gather(
        reads.channel(channel),
        reads.thread(channel, job.thread_ts or job.message_ts),
        s.store.get_vocabulary(channel),
    )
    conversation = conversation or {}
    sharer_id = str(file.get("user") or job.user_id or "")
    message = next((m for m in thread if m.get("ts") == job.message_ts), None)
    participants = [str(m["user"]) for m in thread if m.get("user")]
    people = await reads.people(_unique([sharer_id, *participants, *members]))
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
