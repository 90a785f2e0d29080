"""`/transcribe`: every sub-command, signed form-encoded requests through the real Bolt app."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.jobs.spec import transcribe_job_id
from bot.slack.commands import MessageLink, is_other_workspace, parse_command, strip_mention
from tests.asking import CHANNEL, command, link, notices, running, share, transcripts
from tests.conftest import Server, settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator


async def test_help_lists_every_subcommand_and_the_channel_settings(
    slack: SlackEmulator, server: Server
) -> None:
    text = await command(slack, server, "help")
    for sub in ("/transcribe`", "<message link", "auto on|off", "language <code>|auto"):
        assert sub in text
    assert "translate <code>|off" in text and "*Transcribe*" in text and "mention me" in text
    assert "automatic transcription *on* (default)" in text
    assert "language: *auto-detect*" in text and "translation: *off*" in text


async def test_settings_are_saved_per_channel_and_shown(
    slack: SlackEmulator, server: Server
) -> None:
    store = server.runtime.store
    # Settings are admins' to change (tests/test_admin_settings.py): Alice is one here.
    slack.add_user(
        "U0ALICE", name="alice", real_name="Alice Liddell", display_name="alice", is_admin=True
    )
    assert "transcription *off*" in await command(slack, server, "auto off")
    assert "language: *de*" in await command(slack, server, "language de")
    assert "translation: *en*" in await command(slack, server, "translate en")
    saved = await store.get_channel_settings(CHANNEL)
    assert (saved.auto_transcribe, saved.language, saved.translate_to) == (False, "de", "en")
    await command(slack, server, "language auto")
    await command(slack, server, "translate off")
    assert "transcription *on*" in await command(slack, server, "auto ON")
    saved = await store.get_channel_settings(CHANNEL)
    assert (saved.auto_transcribe, saved.language, saved.translate_to) == (True, None, None)
    # Another channel keeps the defaults.
    slack.add_channel("C0OTHER")
    assert (await store.get_channel_settings("C0OTHER")).auto_transcribe is None


async def test_bad_setting_values_get_a_hint_and_change_nothing(
    slack: SlackEmulator, server: Server
) -> None:
    text = await command(slack, server, "language english")
    assert "language code such as `en`" in text and "Usage:" in text
    assert "`on` or `off`" in await command(slack, server, "auto maybe")
    saved = await server.runtime.store.get_channel_settings(CHANNEL)
    assert saved.language is None and saved.auto_transcribe is None


async def test_anything_else_gets_the_usage_line(slack: SlackEmulator, server: Server) -> None:
    text = await command(slack, server, "please do the thing")
    assert text.startswith("Usage: `/transcribe`")
    await settle(server)
    assert slack.calls_to("conversations.history") == []


async def test_auto_off_then_no_argument_transcribes_the_latest_clip_in_its_thread(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, older = share(slack, voice_clip)
        _, newer = share(slack, voice_clip)
        for event in (older, newer):
            assert (await slack.send_event(server.events_url, event)).status == 200
        await settle(server)
        assert slack.bot_replies(CHANNEL) == []
        assert gemini.interaction_requests == []

        assert "Looking for the latest" in await command(slack, server)
        await wait_for(lambda: transcripts(slack, CHANNEL, newer["ts"]))
        await settle(server)
        assert transcripts(slack, CHANNEL, older["ts"]) == []

        await command(slack, server)  # the next one back
        await wait_for(lambda: transcripts(slack, CHANNEL, older["ts"]))
        await settle(server)

        await command(slack, server)  # nothing left
        await wait_for(lambda: notices(slack))
        assert "no audio or video without a transcript" in notices(slack)[0]
        assert len(transcripts(slack, CHANNEL, newer["ts"])) == 1
        assert len(gemini.interaction_requests) == 2


async def test_message_link_transcribes_that_message_and_not_the_newest(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        _, wanted = share(slack, voice_clip)
        _, newer = share(slack, voice_clip)
        text = await command(slack, server, f"<{link(slack, CHANNEL, wanted['ts'])}>")
        assert "On it" in text
        await wait_for(lambda: transcripts(slack, CHANNEL, wanted["ts"]))
        await settle(server)
        assert transcripts(slack, CHANNEL, newer["ts"]) == []


async def test_message_link_to_a_reply_answers_in_the_thread(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        root = slack.post_user_message(CHANNEL, text="standup notes")
        _, reply = share(slack, voice_clip, thread_ts=root["ts"])
        await command(slack, server, link(slack, CHANNEL, reply["ts"], thread_ts=root["ts"]))
        answer = (await wait_for(lambda: transcripts(slack, CHANNEL, root["ts"])))[0]
        assert answer["thread_ts"] == root["ts"]
        await settle(server)
        assert slack.thread_anomalies == []


async def test_file_link_transcribes_in_the_thread_where_it_was_shared(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    slack.add_channel("C0RANDOM", name="random")
    async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
        file, event = share(slack, voice_clip)
        text = await command(slack, server, file["permalink"], channel="C0RANDOM")
        assert "On it" in text
        await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
        await settle(server)
        assert slack.bot_replies("C0RANDOM") == []
        assert notices(slack) == []


async def test_command_where_the_bot_is_not_a_member_says_how_to_invite_it(
    slack: SlackEmulator, server: Server
) -> None:
    slack.add_channel("C0SECRET", bot_is_member=False)
    await command(slack, server, channel="C0SECRET")
    await wait_for(lambda: slack.response_url_posts)
    text = notices(slack)[0]
    assert "not a member of <#C0SECRET>" in text and "/invite @slack-scribe" in text
    assert slack.response_url_posts[0]["body"]["response_type"] == "ephemeral"


async def test_link_to_a_private_channel_the_bot_cannot_see_says_so(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    slack.add_channel("G0PRIVATE", is_private=True, bot_is_member=False)
    _, event = share(slack, voice_clip, "G0PRIVATE")
    await command(slack, server, link(slack, "G0PRIVATE", event["ts"]))
    await wait_for(lambda: slack.response_url_posts)
    assert "/invite @slack-scribe" in notices(slack)[0]
    await settle(server)
    assert slack.bot_replies("G0PRIVATE") == []


async def test_link_to_another_workspace_is_refused_at_once(
    slack: SlackEmulator, server: Server
) -> None:
    before = len(slack.calls)
    text = await command(
        slack, server, "https://elsewhere.slack.com/archives/C0ABC/p1700000000000100"
    )
    assert "another workspace (elsewhere.slack.com)" in text
    text = await command(slack, server, "https://elsewhere.slack.com/files/U0X/F0ABC/a.m4a")
    assert "another workspace" in text
    await settle(server)
    assert [c.method for c in slack.calls[before:] if c.method != "auth.test"] == []


async def test_link_to_a_file_the_bot_cannot_see_says_how_to_fix_it(
    slack: SlackEmulator, server: Server, voice_clip: Path
) -> None:
    file = slack.add_file(voice_clip.read_bytes(), visible_to_bot=False)
    await command(slack, server, file["permalink"])
    await wait_for(lambda: slack.response_url_posts)
    text = notices(slack)[0]
    assert "can't see that file" in text and "/invite @slack-scribe" in text


async def test_link_to_a_message_without_media_says_so(
    slack: SlackEmulator, server: Server
) -> None:
    message = slack.post_user_message(CHANNEL, text="just words")
    await command(slack, server, link(slack, CHANNEL, message["ts"]))
    await wait_for(lambda: slack.response_url_posts)
    assert "no audio or video" in notices(slack)[0]


async def test_link_to_a_deleted_message_says_so(slack: SlackEmulator, server: Server) -> None:
    await command(slack, server, link(slack, CHANNEL, "1690000000.000100"))
    await wait_for(lambda: slack.response_url_posts)
    assert "couldn't find that message" in notices(slack)[0]


async def test_failed_transcription_can_be_asked_for_again(
    slack: SlackEmulator, gemini: GeminiEmulator, server: Server, voice_clip: Path
) -> None:
    gemini.fail_always(400)
    _, event = share(slack, voice_clip)
    await slack.send_event(server.events_url, event)
    warning = (await wait_for(lambda: slack.bot_replies(CHANNEL, event["ts"])))[0]
    assert warning["text"].startswith(":warning:")
    await settle(server)
    record = await server.runtime.store.get_job(transcribe_job_id(CHANNEL, event["files"][0]["id"]))
    assert record is not None and record.state == "failed"

    gemini.fail_always(None)
    await command(slack, server, link(slack, CHANNEL, event["ts"]))
    await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
    await settle(server)
    # Asked again once it is there: nothing more is posted.
    await command(slack, server, link(slack, CHANNEL, event["ts"]))
    await wait_for(lambda: slack.response_url_posts)
    assert "already has a transcript" in notices(slack)[0]
    assert len(transcripts(slack, CHANNEL, event["ts"])) == 1


@pytest.mark.parametrize(
    ("text", "action", "value"),
    [
        ("", "latest", None),
        ("   ", "latest", None),
        ("help", "help", None),
        ("HELP", "help", None),
        ("auto on", "auto", True),
        ("auto Off", "auto", False),
        ("language pt-BR", "language", "pt-BR"),
        ("language auto", "language", None),
        ("translate en", "translate", "en"),
        ("translate off", "translate", None),
        (
            "translate",
            "usage",
            "`/transcribe translate` takes a language code such as `en`, "
            "`de` or `pt-BR`, or `off`.",
        ),
        (
            "language 12",
            "usage",
            "`/transcribe language` takes a language code such as `en`, "
            "`de` or `pt-BR`, or `auto`.",
        ),
        ("<https://t.slack.com/files/U0A/F0B1/x.m4a|x.m4a>", "file", "F0B1"),
        ("https://notslack.com/files/U0A/F0B1/x.m4a", "usage", None),
        ("help me", "usage", None),
    ],
)
def test_parse_command(text: str, action: str, value: object) -> None:
    parsed = parse_command(text)
    assert (parsed.action, parsed.value) == (action, value)


@pytest.mark.parametrize(
    ("text", "language", "translate_to"),
    [
        ("<https://t.slack.com/files/U0A/F0B1/x.m4a|x.m4a> language de", "de", None),
        ("<https://t.slack.com/files/U0A/F0B1/x.m4a> translate en", None, "en"),
        ("https://t.slack.com/files/U0A/F0B1/x.m4a language pt-BR translate EN", "pt-BR", "EN"),
        ("<https://t.slack.com/archives/C0A1/p1700000000000100> Translate fr", None, "fr"),
    ],
)
def test_parse_request_options_after_a_link(
    text: str, language: str | None, translate_to: str | None
) -> None:
    parsed = parse_command(text)
    assert parsed.action in ("file", "message")
    assert (parsed.language, parsed.translate_to) == (language, translate_to)


@pytest.mark.parametrize(
    "rest", ["language", "language 12", "speed 2", "translate en extra", "language de de"]
)
def test_bad_request_options_get_the_usage(rest: str) -> None:
    parsed = parse_command("<https://t.slack.com/files/U0A/F0B1/x.m4a> " + rest)
    assert parsed.action == "usage"
    assert isinstance(parsed.value, str) and "language <code>" in parsed.value


def test_parse_message_links() -> None:
    top = parse_command("<https://team.slack.com/archives/C0A1/p1700000000000100>")
    assert top.message == MessageLink("C0A1", "1700000000.000100", None, "team.slack.com")
    reply = parse_command(
        "https://team.slack.com/archives/C0A1/p1700000000000200?thread_ts=1700000000.000100&cid=C0A1"
    )
    assert reply.message is not None and reply.message.thread_ts == "1700000000.000100"


@pytest.mark.parametrize(
    ("host", "team", "other"),
    [
        ("team.slack.com", "team", False),
        ("Team.slack.com", "team", False),
        ("elsewhere.slack.com", "team", True),
        ("app.slack.com", "team", False),
        ("acme.enterprise.slack.com", "team", False),
        ("elsewhere.slack.com", "", False),
    ],
)
def test_is_other_workspace(host: str, team: str, other: bool) -> None:
    assert is_other_workspace(host, team) is other


def test_strip_mention() -> None:
    assert strip_mention("<@U0BOT> who spoke?", "U0BOT") == "who spoke?"
    assert strip_mention("hey <@U0BOT>", "U0BOT") == "hey"
    assert strip_mention("<@U0BOT>", None) == ""
