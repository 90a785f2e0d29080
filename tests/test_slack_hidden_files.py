"""Files a free workspace hides past its plan's limit (`mode: hidden_by_limit`) get explained.

Slack redacts such a file to `{"id", "mode": "hidden_by_limit"}` in history, events and
files.info alike (Slack changelog 2019-03 "Enforcing the 5 GB file upload limit"), so
nothing but its id is left: the bot must say why it cannot transcribe it, not stay silent
or call it "not audio or video".
"""

from __future__ import annotations

from pathlib import Path

from bot.jobs.spec import transcribe_job_id
from tests.asking import CHANNEL, running, share
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator


async def test_hidden_file_in_a_share_becomes_a_job_that_looks_it_up(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    file = slack.add_file(voice_clip.read_bytes())
    slack.hide_file_by_limit(file["id"])
    event = slack.post_user_message(CHANNEL, files=[file])
    assert event["files"] == [{"id": file["id"], "mode": "hidden_by_limit"}]
    assert (await slack.send_event(server.events_url, event)).status == 200
    await wait_for(lambda: slack.calls_to("files.info"))
    await settle(server)
    record = await server.runtime.store.get_job(transcribe_job_id(CHANNEL, file["id"]))
    assert record is not None
    assert gemini.interaction_requests == []
    assert slack.file_downloads == []


async def test_shortcut_on_a_file_hidden_by_the_plan_says_so_in_the_thread(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        file, event = share(slack, voice_clip)
        slack.hide_file_by_limit(file["id"])  # months later, on the free plan
        await slack.send_message_shortcut(server.events_url, message=event)
        warning = (await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"])))[0]
        await settle(server)
        assert warning["text"].startswith(":warning:")
        assert "plan limit" in warning["text"]
        assert "isn't audio or video" not in warning["text"]
        assert gemini.interaction_requests == []
