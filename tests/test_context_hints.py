"""Slack context in the Gemini request: channel, topic, message, people, within the budget.

Every test shares a real clip through a signed event; the hints are read off the
request the Gemini emulator received.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.asking import CHANNEL, running, share, transcripts
from tests.conftest import settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.test_long_recordings import request_text

# The bounds the tests hold the code to (test_bounds_are_the_codes checks they agree).
HINT_TOKEN_BUDGET = 800
MAX_MEMBERS = 50
_BLOCK = re.compile(r"<slack_context>.*?</slack_context>", re.DOTALL)


def estimate_tokens(text: str) -> int:
    """Tokens as the Gemini emulator counts them (4 characters a token)."""
    return math.ceil(len(text) / 4)


def hint_block(gemini: GeminiEmulator) -> str:
    """The hints block of the (one) transcription request the emulator received."""
    texts = [request_text(r) for r in gemini.interaction_requests]
    blocks = [m.group(0) for t in texts for m in [_BLOCK.search(t)] if m]
    assert blocks, texts
    return blocks[0]


def add_people(slack: SlackEmulator, count: int) -> set[str]:
    ids = set()
    for i in range(count):
        uid = f"U{i:07d}"
        slack.add_user(uid, name=f"p{i}", real_name=f"Person Number{i}", display_name=f"pn{i}")
        ids.add(uid)
    return ids


async def transcribe(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, clip: Path, **share_kw: Any
) -> dict[str, Any]:
    async with running(slack, gemini, tmp_path) as srv:
        _, event = share(slack, clip, **share_kw)
        assert (await slack.send_event(srv.events_url, event)).status == 200
        thread = share_kw.get("thread_ts") or event["ts"]
        await wait_for(lambda: transcripts(slack, CHANNEL, thread), timeout=30)
        await settle(srv, timeout=30)
    return event


async def test_request_carries_channel_topic_message_and_people(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_user("U0BOB", name="bob", real_name="Bob Marley", display_name="bob.m")
    slack.add_user("U0CAROL", name="carol", real_name="Carol Danvers", display_name="carol")
    slack.add_channel(
        CHANNEL,
        name="kube-standup",
        topic="Daily standup for the Kubernetes migration",
        purpose="Platform team <coordination> & status",
        members={"U0ALICE", "U0BOB", "U0CAROL"},
    )
    await transcribe(
        slack, gemini, tmp_path, voice_clip, text="Standup with <@U0BOB> about the etcd upgrade"
    )

    block = hint_block(gemini)
    assert "#kube-standup" in block
    assert "Daily standup for the Kubernetes migration" in block
    assert "Platform team coordination & status" in block  # angle brackets cannot close it
    assert "Standup with @bob.m about the etcd upgrade" in block
    assert "Shared by: alice (Alice Liddell)" in block
    assert "bob.m (Bob Marley)" in block and "carol (Carol Danvers)" in block
    assert "Scribe" not in block  # bots are not people who speak
    assert "NOT part of the recording" in block
    assert estimate_tokens(block) <= HINT_TOKEN_BUDGET


async def test_500_member_channel_stays_within_budget_and_bounded_lookups(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    members = add_people(slack, 500) | {"U0ALICE"}
    slack.add_channel(CHANNEL, name="all-hands", topic="Everyone " * 40, members=members)
    await transcribe(slack, gemini, tmp_path, voice_clip, text="Town hall " * 100)

    block = hint_block(gemini)
    assert estimate_tokens(block) <= HINT_TOKEN_BUDGET
    assert "Channel members: " in block and "#all-hands" in block
    # At most MAX_MEMBERS members looked up, one users.info each (plus the sharer).
    assert len(slack.calls_to("users.info")) <= MAX_MEMBERS + 2
    pages = slack.calls_to("conversations.members")
    assert pages and all(int(c.params.get("limit", 0)) <= MAX_MEMBERS for c in pages)


async def test_people_of_a_thread_are_hinted_and_members_are_paged(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    add_people(slack, 30)
    slack.add_user("U0DAN", name="dan", real_name="Dan Brown", display_name="dan")
    slack.add_channel(CHANNEL, name="general", members=None)  # everyone: > one page of 50
    root = slack.post_user_message(CHANNEL, user="U0DAN", text="Here is the recording")
    slack.post_user_message(CHANNEL, user="U0000003", text="thanks", thread_ts=root["ts"])
    await transcribe(slack, gemini, tmp_path, voice_clip, thread_ts=root["ts"])

    block = hint_block(gemini)
    assert re.search(r"People in the thread: .*dan \(Dan Brown\)", block)
    assert "pn3 (Person Number3)" in block


async def test_slack_failing_to_answer_costs_the_hints_not_the_job(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    for method in ("conversations.info", "conversations.members", "conversations.replies"):
        slack.fail(method, "internal_error", times=5)
    slack.fail("users.info", "internal_error", times=50)
    event = await transcribe(slack, gemini, tmp_path, voice_clip)
    replies = transcripts(slack, CHANNEL, event["ts"])
    assert replies and not replies[0]["text"].startswith(":warning:")


def test_bounds_are_the_codes() -> None:
    from bot.gemini import prompts
    from bot.jobs import context

    assert (prompts.HINT_TOKEN_BUDGET, context.MAX_MEMBERS) == (HINT_TOKEN_BUDGET, MAX_MEMBERS)
    assert prompts.estimate_tokens("x" * 9) == estimate_tokens("x" * 9) == 3


@pytest.mark.parametrize("budget", [40, 120, 400, HINT_TOKEN_BUDGET])
def test_render_hints_never_passes_its_budget(budget: int) -> None:
    from bot.gemini.prompts import RoomHints, render_hints

    hints = RoomHints(
        channel_name="c" * 300,
        topic="t" * 2000,
        purpose="p" * 2000,
        message_text="m" * 5000,
        sharer="s" * 300,
        participants=tuple(f"participant {i}" for i in range(200)),
        members=tuple(f"member number {i}" for i in range(500)),
        vocabulary=tuple(f"term{i}" for i in range(50)),
    )
    block = render_hints(hints, budget)
    assert estimate_tokens(block) <= budget
    assert render_hints(RoomHints()) == ""
    assert render_hints(None) == ""


class _NoVocabulary:
    async def get_vocabulary(self, channel_id: str) -> list[str]:
        return []


async def test_a_burst_reads_each_channel_once_and_stays_within_the_hints_share(
    slack: SlackEmulator,
) -> None:
    from types import SimpleNamespace

    from slack_sdk.web.async_client import AsyncWebClient

    from bot.jobs.context import HINT_CALLS_PER_MINUTE, gather_context
    from bot.jobs.spec import Job

    add_people(slack, 20)
    services: Any = SimpleNamespace(
        slack=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url),
        store=_NoVocabulary(),
    )
    started = time.monotonic()
    for i in range(40):
        message = slack.post_user_message(CHANNEL, text=f"clip {i}")
        job = Job(id=f"t:{CHANNEL}:F{i}", channel_id=CHANNEL, message_ts=message["ts"])
        room = await gather_context(services, job, {"user": "U0ALICE"})
        assert room is not None and room.hints.channel_name == "general"
    assert time.monotonic() - started < 10  # no job waited out a rate limit
    assert len(slack.calls_to("conversations.info")) == 1  # cached per channel
    assert len(slack.calls_to("conversations.members")) == 1
    replies = len(slack.calls_to("conversations.replies"))
    assert replies == HINT_CALLS_PER_MINUTE["conversations.replies"] < 40
    assert len(slack.calls_to("users.info")) == 22  # each member once: 20, Alice, the bot
