"""`/metrics` after a real job: counters, histograms and gauges with the right labels and values."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator

CHANNEL = "C0GENERAL"


async def _scrape(server: Server) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}}"""
    async with aiohttp.ClientSession() as http, http.get(server.url + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


async def test_metrics_after_one_job(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    file = slack.add_file(voice_clip.read_bytes(), name="memo.m4a", mimetype="audio/mp4")
    event = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(server.events_url, event)
    await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]))
    await settle(server)

    m = await _scrape(server)

    assert m["scribe_jobs_total"] == {
        (("kind", "transcribe"), ("outcome", "done")): 1.0,
        (("kind", "transcribe"), ("outcome", "failed")): 0.0,
    }
    for stage in ("ack", "download", "prepare", "gemini", "post", "total"):
        count = m["scribe_stage_seconds_count"][(("stage", stage),)]
        if stage != "ack":  # every Slack request is acked; the pipeline stages ran once
            assert count == 1.0, stage
        assert m["scribe_stage_seconds_sum"][(("stage", stage),)] > 0, stage
        assert m["scribe_stage_seconds_bucket"][(("le", "+Inf"), ("stage", stage))] == count
    assert m["scribe_stage_seconds_count"][(("stage", "ack"),)] >= 1
    assert m["scribe_queue_depth"] == {(): 0.0}
    assert m["scribe_jobs_in_flight"] == {(): 0.0}
    # 12 s of audio (the AAC encoder may pad a frame).
    assert 0.19 < m["scribe_audio_minutes_total"][()] < 0.21

    # Tokens are the sums of what Gemini's answers reported.
    usage = [i["usage"] for i in gemini.interactions.values()]
    assert len(usage) == 1
    tokens_in = sum(u["total_input_tokens"] for u in usage)
    tokens_out = sum(u["total_output_tokens"] for u in usage)
    thoughts = sum(u["total_thought_tokens"] for u in usage)
    assert tokens_in > 0 and tokens_out > 0 and thoughts > 0
    assert m["scribe_gemini_tokens_total"] == {
        (("direction", "input"),): tokens_in,
        (("direction", "output"),): tokens_out,
        (("direction", "thought"),): thoughts,
    }
    # Default prices: $1 / $4 per million input / output tokens; thinking is billed as output.
    expected_cost = tokens_in / 1e6 * 1.0 + (tokens_out + thoughts) / 1e6 * 4.0
    assert abs(m["scribe_gemini_cost_usd_total"][()] - expected_cost) < 1e-12


async def test_failed_job_is_counted_by_outcome_and_reason(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, tmp_path: Path
) -> None:
    corrupt = b"\x00\x00\x00\x18ftypM4A " + b"garbage" * 500
    file = slack.add_file(corrupt, name="broken.m4a", mimetype="audio/mp4")
    event = slack.post_user_message(CHANNEL, files=[file])
    await slack.send_event(server.events_url, event)
    replies = await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"]))
    await settle(server)
    assert replies[0]["text"].startswith(":warning:")

    m = await _scrape(server)
    assert m["scribe_jobs_total"] == {
        (("kind", "transcribe"), ("outcome", "done")): 0.0,
        (("kind", "transcribe"), ("outcome", "failed")): 1.0,
    }
    assert m["scribe_job_failures_total"] == {(("reason", "corrupt"),): 1.0}
    assert gemini.interaction_requests == []
    # Nothing went to Gemini: no tokens, no cost, no Gemini stage, no audio minutes.
    assert set(m["scribe_gemini_tokens_total"].values()) == {0.0}
    assert m["scribe_gemini_cost_usd_total"][()] == 0.0
    assert m["scribe_audio_minutes_total"][()] == 0.0
    stages = m["scribe_stage_seconds_count"]
    assert stages[(("stage", "download"),)] == 1.0
    assert stages[(("stage", "gemini"),)] == 0.0
    assert stages[(("stage", "total"),)] == 1.0
