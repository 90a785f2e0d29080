"""A thread's transcript record, the same on SQLite and Redis: names, deletion, lookup by file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.store.base import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from bot.store.sqlite_db import SqliteDatabase

pytest_plugins = ["tests.redis_fixtures"]

DAY = 86_400


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        sqlite = SqliteStore(await SqliteDatabase.open(tmp_path / "store.db"))
        try:
            yield sqlite
        finally:
            await sqlite.close()
        return
    url = request.getfixturevalue("redis_url")
    redis = RedisStore(Redis.from_url(url, decode_responses=True), retention_s=30 * DAY)
    try:
        yield redis
    finally:
        await redis.close()


async def _transcribed(store: Store, channel: str, thread: str, file_id: str = "F1") -> None:
    for options in ("", "fr"):  # the transcript, and a translation of it
        await store.cache_transcript(f"{file_id}::{options}", f'{{"o": "{options}"}}', 60.0)
    await store.link_thread(channel, thread, file_id, f"{file_id}::", job_id=f"t:{channel}:F1")


async def test_the_record_knows_its_job_and_speaker_names(store: Store) -> None:
    await _transcribed(store, "C1", "1.0")
    assert await store.rename_speakers("C1", "1.0", {"Speaker 1": " Ana "}) == {"Speaker 1": "Ana"}
    merged = await store.rename_speakers("C1", "1.0", {"Speaker 2": "Ben", "Speaker 1": ""})
    assert merged == {"Speaker 2": "Ben"}  # an empty name removes one
    found = await store.thread_transcript("C1", "1.0")
    assert found is not None
    assert (found.job_id, found.cache_key, found.speaker_names) == (
        "t:C1:F1",
        "F1::",
        {"Speaker 2": "Ben"},
    )
    assert (found.channel_id, found.thread_ts, found.duration_s) == ("C1", "1.0", 60.0)
    assert await store.rename_speakers("C1", "9.9", {"Speaker 1": "X"}) is None


async def test_a_new_transcript_in_the_thread_starts_its_names_over(store: Store) -> None:
    await _transcribed(store, "C1", "1.0")
    await store.rename_speakers("C1", "1.0", {"Speaker 1": "Ana"})
    await store.link_thread("C1", "1.0", "F1", "F1:de:", job_id="t:C1:F1")
    found = await store.thread_transcript("C1", "1.0")
    assert found is None or found.speaker_names == {}


async def test_forgetting_a_thread_deletes_the_file_transcripts_once_no_thread_needs_them(
    store: Store,
) -> None:
    await _transcribed(store, "C1", "1.0")
    await _transcribed(store, "C2", "2.0")  # the same file shared in another channel
    assert {(t.channel_id, t.thread_ts) for t in await store.threads_of_file("F1")} == {
        ("C1", "1.0"),
        ("C2", "2.0"),
    }
    gone = await store.forget_thread("C1", "1.0")
    assert gone is not None and gone.file_id == "F1"
    assert await store.thread_transcript("C1", "1.0") is None
    # C2's questions still have their transcript.
    assert await store.thread_transcript("C2", "2.0") is not None
    assert await store.get_cached_transcript("F1::fr") is not None
    await store.forget_thread("C2", "2.0")
    assert await store.get_cached_transcript("F1::") is None
    assert await store.get_cached_transcript("F1::fr") is None
    assert await store.threads_of_file("F1") == []
    assert await store.forget_thread("C2", "2.0") is None


async def test_another_files_transcripts_are_left_alone(store: Store) -> None:
    await _transcribed(store, "C1", "1.0", file_id="F1")
    await store.cache_transcript("F10::", "{}", 1.0)  # a file id that starts with F1
    await store.forget_thread("C1", "1.0")
    assert await store.get_cached_transcript("F10::") is not None


async def test_the_record_keeps_how_the_reply_was_rendered_and_the_exports(store: Store) -> None:
    await store.cache_transcript("F1::", "{}", 60.0)
    await store.link_thread("C1", "1.0", "F1", "F1::", job_id="t:C1:F1", reply='{"v": 1}')
    await store.record_export("C1", "1.0", "srt:abc", "https://x.slack.com/files/U1/F9/a.srt")
    await store.record_export("C1", "1.0", "txt:abc", "https://x.slack.com/files/U1/F8/a.txt")
    found = await store.thread_transcript("C1", "1.0")
    assert found is not None
    assert found.reply == '{"v": 1}'
    assert found.exports == {
        "srt:abc": "https://x.slack.com/files/U1/F9/a.srt",
        "txt:abc": "https://x.slack.com/files/U1/F8/a.txt",
    }
    # A new transcript in the thread: its exports start over.
    await store.link_thread("C1", "1.0", "F1", "F1::", job_id="t:C1:F1")
    again = await store.thread_transcript("C1", "1.0")
    assert again is not None and again.exports == {} and again.reply == ""
    await store.record_export("C9", "9.9", "srt:abc", "https://nowhere")  # no thread: nothing
    assert await store.thread_transcript("C9", "9.9") is None
