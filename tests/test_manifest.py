"""manifest.yml: valid against Slack's schema, and every scope it asks for is one the code needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.slack.scopes import BOT_SCOPES
from handlers import MESSAGE_SHORTCUT, SLASH_COMMAND
from tests.asking import CHANNEL, command, running, share, transcripts
from tests.conftest import settle, wait_for
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_wire import HISTORY_SCOPES, METHOD_SCOPES

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path("/work/shared/reference/slack-app-manifest.schema.json")

#: What each scope allows that this app relies on: Web API methods (as slack_sdk names them)
#: and events (as the manifest names them). Sources: docs.slack.dev method and event pages.
SCOPE_USES: dict[str, dict[str, list[str]]] = {
    "app_mentions:read": {"events": ["app_mention"]},
    "channels:history": {
        "events": ["message.channels"],
        "methods": ["conversations_history", "conversations_replies"],
    },
    "groups:history": {
        "events": ["message.groups"],
        "methods": ["conversations_history", "conversations_replies"],
    },
    "im:history": {"events": ["message.im"]},
    "mpim:history": {"events": ["message.mpim"]},
    "chat:write": {"methods": ["chat_postMessage", "chat_postEphemeral", "chat_delete"]},
    "commands": {"listeners": ["command", "message_shortcut"]},
    "files:read": {"methods": ["files_info"], "events": ["file_deleted"]},
    "files:write": {"methods": ["files_upload_v2", "files_delete"]},
    "reactions:write": {"methods": ["reactions_add", "reactions_remove"]},
    "users:read": {"methods": ["users_info"]},
    "channels:read": {"methods": ["conversations_info", "conversations_members"]},
    "groups:read": {"methods": ["conversations_info", "conversations_members"]},
    "im:read": {"methods": ["conversations_info", "conversations_members"]},
    "mpim:read": {"methods": ["conversations_info", "conversations_members"]},
}
#: Bolt listener (event type) behind each subscribed event.
EVENT_LISTENERS = {
    "message.channels": "message",
    "message.groups": "message",
    "message.im": "message",
    "message.mpim": "message",
    "app_mention": "app_mention",
    "app_home_opened": "app_home_opened",
    "file_deleted": "file_deleted",
}
#: Calls (or references, e.g. a method picked from a tuple) on a slack_sdk client; not
#: modules of the bot.slack package (`bot.slack.controls_render`).
_CALL = re.compile(r"(?<!bot\.)\b_?(?:slack|client|decor)\.([a-z]+_[A-Za-z0-9_]+)\b")
#: Made with the app-level token (xapp-, its own `connections:write`), not the bot token.
APP_TOKEN_METHODS = {"apps.connections.open"}


def manifest() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(data, dict)
    return data


def code() -> str:
    files = [*sorted((ROOT / "bot").rglob("*.py")), *sorted((ROOT / "handlers").rglob("*.py"))]
    return "\n".join(p.read_text() for p in files)


def called_methods() -> set[str]:
    return set(_CALL.findall(code()))


def listened_events() -> set[str]:
    # `@app.event("x")` decorators, and `app.event("x")(ack=…, lazy=[…])` lazy listeners.
    return set(re.findall(r"\bapp\.event\(\"([a-z_]+)\"\)", code()))


def test_manifest_validates_against_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(manifest()))
    assert errors == [], [e.message for e in errors]


def test_schema_check_is_not_vacuous() -> None:
    broken = manifest()
    broken["features"]["shortcuts"][0]["type"] = "sideways"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(SCHEMA.read_text()))


def test_manifest_names_what_the_handlers_register() -> None:
    m = manifest()
    features, settings = m["features"], m["settings"]
    assert [c["command"] for c in features["slash_commands"]] == [SLASH_COMMAND]
    assert [(s["type"], s["callback_id"]) for s in features["shortcuts"]] == [
        ("message", MESSAGE_SHORTCUT)
    ]
    assert settings["interactivity"]["is_enabled"] is True
    assert features["app_home"]["home_tab_enabled"] is True
    # People must be able to send the bot voice notes.
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["messages_tab_read_only_enabled"] is False
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in features["slash_commands"]),
    }
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")


def test_every_subscribed_event_has_a_listener() -> None:
    events = manifest()["settings"]["event_subscriptions"]["bot_events"]
    listened = listened_events()
    for event in events:
        assert EVENT_LISTENERS[event] in listened, event


def test_deletions_reach_the_app_and_it_may_delete_its_own_posts() -> None:
    # A transcript goes with its file (file_deleted, under files:read) and with the message
    # that carried it (message_deleted / tombstones come with the message.* events); the
    # bot deletes its replies (chat.delete, chat:write) and uploads (files.delete, files:write).
    m = manifest()
    events = m["settings"]["event_subscriptions"]["bot_events"]
    assert "file_deleted" in events and "file_deleted" in listened_events()
    assert {"message.channels", "message.groups", "message.im", "message.mpim"} <= set(events)
    assert {"chat_delete", "files_delete"} <= called_methods()
    assert {"chat:write", "files:write", "files:read"} <= set(m["oauth_config"]["scopes"]["bot"])


def test_the_manifest_asks_for_exactly_the_codes_scope_list() -> None:
    assert sorted(manifest()["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)


def test_every_scope_asked_for_is_used_by_the_code() -> None:
    scopes = manifest()["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    events = set(manifest()["settings"]["event_subscriptions"]["bot_events"])
    methods, listened, source = called_methods(), listened_events(), code()
    for scope in scopes:
        uses = SCOPE_USES[scope]  # a KeyError here: a scope nobody explained
        used = (
            any(m in methods for m in uses.get("methods", []))
            or any(e in events and EVENT_LISTENERS[e] in listened for e in uses.get("events", []))
            or any(f"@app.{kind}(" in source for kind in uses.get("listeners", []))
        )
        assert used, f"{scope} is asked for but no code path needs it"


def test_every_scoped_method_the_code_calls_is_granted() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    methods = called_methods()
    assert {"chat_postMessage", "files_info", "conversations_replies"} <= methods
    for method in methods:
        if method == "files_upload_v2":
            needed = {METHOD_SCOPES["files.getUploadURLExternal"]}
        elif method.startswith("conversations_"):
            # Conversations the bot reads: channels, private channels, DMs, group DMs.
            needed = set(HISTORY_SCOPES.values())
        elif method.replace("_", ".") in APP_TOKEN_METHODS:
            continue
        else:
            needed = {METHOD_SCOPES[method.replace("_", ".")]}
        assert needed - {None} <= scopes, method


async def test_the_bot_works_with_exactly_the_manifest_scopes(
    gemini: GeminiEmulator, tmp_path: Path, voice_clip: Path
) -> None:
    scopes = manifest()["oauth_config"]["scopes"]["bot"]
    async with SlackEmulator(scopes=scopes) as slack:
        async with running(slack, gemini, tmp_path, scribe_auto_transcribe=False) as server:
            _, event = share(slack, voice_clip)
            await command(slack, server)
            await wait_for(lambda: transcripts(slack, CHANNEL, event["ts"]))
            await settle(server)
        refused = [c.method for c in slack.calls if c.response.get("error") == "missing_scope"]
        assert refused == []
        assert slack.calls_to("conversations.history") and slack.calls_to("users.info")
