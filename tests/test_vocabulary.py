"""`/transcribe vocabulary`: add, list (escaped), remove, limits; both stores; into the prompt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.asking import CHANNEL, command, running, share, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.test_long_recordings import request_text

pytest_plugins = ["tests.redis_fixtures"]

# What the answers promise (test_limits_are_the_codes checks they agree with the code).
MAX_TERMS = 50
MAX_TERM_CHARS = 40


async def test_add_list_remove_and_the_next_request_carries_the_terms(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    added = await command(slack, server, 'vocabulary add Kubernetes "Ana Lucía"')
    assert "`Kubernetes`" in added and "`Ana Lucía`" in added
    assert f"{MAX_TERMS}" in added and f"{MAX_TERM_CHARS} characters" in added

    _, event = share(slack, voice_clip)
    assert (await slack.send_event(server.events_url, event)).status == 200
    await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]), timeout=30)
    await settle(server)
    prompt = request_text(gemini.interaction_requests[-1])
    assert "Kubernetes; Ana Lucía" in prompt

    removed = await command(slack, server, "vocabulary remove kubernetes")
    assert "Removed `Kubernetes`" in removed
    listed = await command(slack, server, "vocabulary list")
    assert "`Ana Lucía`" in listed and "Kubernetes" not in listed
    assert "is not in" in await command(slack, server, "vocabulary remove Kubernetes")


async def test_terms_are_escaped_when_listed_and_cannot_ping(
    slack: SlackEmulator, server: Server
) -> None:
    # Slack sends the command text with &, <, > escaped; the term is stored as typed.
    await command(slack, server, 'vocabulary add "&lt;!channel&gt;" "R&amp;D" <@U0ALICE>')
    listed = await command(slack, server, "vocabulary list")
    assert "&lt;!channel&gt;" in listed and "R&amp;D" in listed and "&lt;@U0ALICE&gt;" in listed
    assert "<!channel>" not in listed and "<@U0ALICE>" not in listed
    terms = await server.runtime.store.get_vocabulary(CHANNEL)
    assert terms == ["<!channel>", "R&D", "<@U0ALICE>"]


async def test_limits_on_count_and_length_are_said_and_kept(
    slack: SlackEmulator, server: Server
) -> None:
    too_long = "x" * (MAX_TERM_CHARS + 1)
    answer = await command(slack, server, f"vocabulary add {too_long}")
    assert f"at most {MAX_TERM_CHARS} characters" in answer
    assert await server.runtime.store.get_vocabulary(CHANNEL) == []
    terms = " ".join(f"t{i}" for i in range(MAX_TERMS))
    await command(slack, server, f"vocabulary add {terms}")
    # Adding a term that is already there (any case) is not a new term.
    await command(slack, server, "vocabulary add T1")
    refused = await command(slack, server, "vocabulary add one-more")
    assert "Remove some first" in refused and f"at most {MAX_TERMS} terms" in refused
    assert len(await server.runtime.store.get_vocabulary(CHANNEL)) == MAX_TERMS
    assert "Usage" in await command(slack, server, "vocabulary frobnicate")


def test_limits_are_the_codes() -> None:
    from bot.slack import commands

    assert (commands.MAX_VOCABULARY_TERMS, commands.MAX_TERM_CHARS) == (MAX_TERMS, MAX_TERM_CHARS)


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ('vocabulary add Kubernetes "Ana Lucía"', ("Kubernetes", "Ana Lucía")),
        ("vocabulary add \u201cAna Lucía\u201d k8s", ("Ana Lucía", "k8s")),
        ("vocabulary remove Ana Lucía", ("Ana Lucía",)),
        ('vocabulary add "  spaced   out "', ("spaced out",)),
    ],
)
def test_parse_vocabulary(text: str, terms: tuple[str, ...]) -> None:
    from bot.slack.commands import parse_command

    parsed = parse_command(text)
    assert parsed.action == "vocabulary" and parsed.terms == terms


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[Any]:
    from bot.store.redis import RedisStore

    store = RedisStore(Redis.from_url(redis_url, decode_responses=True), retention_s=86_400)
    try:
        yield store
    finally:
        await store.close()


@pytest.mark.redis
async def test_redis_store_keeps_vocabulary_like_sqlite(
    redis_store: Any, slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    async with running(slack, gemini, tmp_path) as srv:
        stores = [redis_store, srv.runtime.store]
        for store in stores:
            assert await store.add_vocabulary("C1", ["Kubernetes", "Ana Lucía"]) == [
                "Kubernetes",
                "Ana Lucía",
            ]
            assert await store.add_vocabulary("C1", ["KUBERNETES", "etcd"]) == [
                "Kubernetes",
                "Ana Lucía",
                "etcd",
            ]
            assert await store.get_vocabulary("C2") == []
            assert await store.remove_vocabulary("C1", "ana lucía") == "Ana Lucía"
            assert await store.remove_vocabulary("C1", "ana lucía") is None
            assert await store.get_vocabulary("C1") == ["Kubernetes", "etcd"]
