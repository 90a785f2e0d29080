"""Modals and interactivity in the Slack emulator, through the real slack_sdk / slack_bolt:
trigger_ids (issued, spent, expired), views.open and its view checks, block_actions built from
what the bot posted, view_submission and what the app's answer does to the modal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.emulators.slack import SlackEmulator
from tests.emulators.test_slack_emulator import api_error, bolt_app, serve


@pytest.fixture
def client(slack: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


def modal(**kw: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "speakers",
        "title": {"type": "plain_text", "text": "Name the speakers"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": "C0GENERAL:1700000000.000100",
        "blocks": [
            {
                "type": "input",
                "block_id": "who",
                "label": {"type": "plain_text", "text": "Speaker 1 is"},
                "element": {"type": "users_select", "action_id": "user"},
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "text", "max_length": 20},
            },
        ],
    }
    return view | kw


def trigger(slack: SlackEmulator, user: str = "U0ALICE") -> str:
    return slack.slash_command_payload(user=user)["trigger_id"]


def input_block(**kw: Any) -> dict[str, Any]:
    block = modal()["blocks"][0]
    return block | kw


# --- views.open -------------------------------------------------------------------------------


async def test_views_open_answers_the_view_with_id_hash_and_state(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    opened = (await client.views_open(trigger_id=trigger(slack, "U0ALICE"), view=modal()))["view"]
    assert opened["id"].startswith("V") and opened["hash"]
    assert opened["state"] == {"values": {}}
    assert opened["root_view_id"] == opened["id"] and opened["previous_view_id"] is None
    assert (opened["callback_id"], opened["private_metadata"]) == (
        "speakers",
        "C0GENERAL:1700000000.000100",
    )
    assert opened["app_id"] == slack.app_id and opened["bot_id"] == slack.bot_id
    assert slack.views_opened == [opened]
    assert slack.views[opened["id"]]["user"] == "U0ALICE"
    # A view as a JSON string (the docs' form) works the same, and unnamed blocks get names.
    unnamed = modal(blocks=[{"type": "divider"}, {"type": "divider"}])
    del unnamed["submit"]
    answer = await client.api_call(
        "views.open", params={"trigger_id": trigger(slack), "view": json.dumps(unnamed)}
    )
    ids = [b["block_id"] for b in answer["view"]["blocks"]]
    assert all(ids) and len(set(ids)) == 2


async def test_trigger_ids_are_spent_once_expire_and_must_be_real(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    err = await api_error(client.api_call("views.open", json={"view": modal()}))
    assert err.response["error"] == "invalid_arguments"
    err = await api_error(client.api_call("views.open", json={"trigger_id": trigger(slack)}))
    assert err.response["error"] == "invalid_arguments"
    for never_issued in ("12345.98765.abcd2358fdea", "not-a-trigger"):
        err = await api_error(client.views_open(trigger_id=never_issued, view=modal()))
        assert err.response["error"] == "invalid_trigger_id"

    spent = trigger(slack)
    await client.views_open(trigger_id=spent, view=modal())
    err = await api_error(client.views_open(trigger_id=spent, view=modal()))
    assert err.response["error"] == "exchanged_trigger_id"

    old = trigger(slack)
    slack.age_trigger(old, 3.01)
    err = await api_error(client.views_open(trigger_id=old, view=modal()))
    assert err.response["error"] == "expired_trigger_id"

    slack.trigger_ttl_s = 0.05
    late = trigger(slack)
    await asyncio.sleep(0.1)
    err = await api_error(client.views_open(trigger_id=late, view=modal()))
    assert err.response["error"] == "expired_trigger_id"
    assert len(slack.views_opened) == 1


def _blocks(n: int) -> list[dict[str, Any]]:
    return [{"type": "divider"}] * n


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (modal(type="home"), "/view/type"),
        (modal(title={"type": "plain_text", "text": "t" * 25}), "/view/title/text"),
        (modal(title={"type": "mrkdwn", "text": "Title"}), "/view/title"),
        (modal(submit={"type": "plain_text", "text": "s" * 25}), "/view/submit/text"),
        (modal(close={"type": "plain_text", "text": "c" * 25}), "/view/close/text"),
        (modal(blocks=_blocks(101)), "/view/blocks"),
        (modal(blocks=[]), "/view/blocks"),
        (modal(callback_id="c" * 256), "/view/callback_id"),
        (modal(private_metadata="m" * 3001), "/view/private_metadata"),
        (modal(blocks=[input_block(label=None)]), "/view/blocks/0/label"),
        (
            modal(blocks=[input_block(label={"type": "plain_text", "text": "l" * 2001})]),
            "/view/blocks/0/label/text",
        ),
        (
            modal(blocks=[input_block(element={"type": "users_select"})]),
            "/view/blocks/0/element/action_id",
        ),
        (
            modal(blocks=[input_block(element={"type": "button", "action_id": "b"})]),
            "/view/blocks/0/element",
        ),
        (
            modal(
                blocks=[
                    input_block(
                        element={
                            "type": "static_select",
                            "action_id": "s",
                            "options": [
                                {"text": {"type": "plain_text", "text": "x"}, "value": "v" * 151}
                            ],
                        }
                    )
                ]
            ),
            "/view/blocks/0/element/options/0/value",
        ),
        ({k: v for k, v in modal().items() if k != "submit"}, "/view"),
    ],
    ids=[
        "not-a-modal",
        "title-25",
        "title-mrkdwn",
        "submit-25",
        "close-25",
        "101-blocks",
        "no-blocks",
        "callback-id-256",
        "private-metadata-3001",
        "input-without-label",
        "label-2001",
        "input-without-action-id",
        "input-with-a-button",
        "option-value-151",
        "inputs-without-submit",
    ],
)
async def test_views_open_refuses_views_slack_refuses(
    slack: SlackEmulator, client: AsyncWebClient, view: dict[str, Any], pointer: str
) -> None:
    spare = trigger(slack)
    err = await api_error(client.views_open(trigger_id=spare, view=view))
    assert err.response["error"] == "invalid_arguments"
    messages = err.response["response_metadata"]["messages"]
    assert any(f"[json-pointer:{pointer}]" in m for m in messages), messages
    assert slack.views_opened == []
    # A refused view does not spend the trigger.
    await client.views_open(trigger_id=spare, view=modal())


async def test_views_at_their_limits_open(slack: SlackEmulator, client: AsyncWebClient) -> None:
    view = modal(
        title={"type": "plain_text", "text": "t" * 24},
        submit={"type": "plain_text", "text": "s" * 24},
        close={"type": "plain_text", "text": "c" * 24},
        callback_id="c" * 255,
        private_metadata="m" * 3000,
        blocks=[
            input_block(label={"type": "plain_text", "text": "l" * 2000}),
            *[{"type": "divider"}] * 99,
        ],
    )
    opened = (await client.views_open(trigger_id=trigger(slack), view=view))["view"]
    assert len(opened["blocks"]) == 100


# --- view_submission ----------------------------------------------------------------------------


async def test_view_submission_reaches_bolt_and_its_answer_shapes_the_modal(
    slack: SlackEmulator,
) -> None:
    app = bolt_app(slack)
    submitted: list[dict[str, Any]] = []

    @app.command("/transcribe")
    async def on_command(ack: Any, body: dict, client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=modal())

    @app.view("speakers")
    async def on_submit(ack: Any, view: dict, body: dict) -> None:
        submitted.append(body)
        note = view["state"]["values"]["note"]["text"]["value"]
        if note == "wrong":
            await ack(response_action="errors", errors={"note": "Not that"})
        else:
            await ack()

    runner, url = await serve(app.web_app())
    try:
        await slack.send_slash_command(url, user="U0ALICE")
        view_id = slack.views_opened[0]["id"]
        sent = await slack.send_view_submission(
            url, view_id, {"who": {"user": "U0BOT"}, "note": {"text": "wrong"}}
        )
        assert sent.json() == {"response_action": "errors", "errors": {"note": "Not that"}}
        assert slack.views[view_id]["open"] is True
        state = submitted[0]["view"]["state"]["values"]
        assert state["who"]["user"] == {"type": "users_select", "selected_user": "U0BOT"}
        assert submitted[0]["user"]["id"] == "U0ALICE"
        assert submitted[0]["view"]["private_metadata"] == "C0GENERAL:1700000000.000100"
        # Left empty, an optional text input is sent as null.
        sent = await slack.send_view_submission(url, view_id, {"who": {"user": "U0ALICE"}})
        assert sent.status == 200 and sent.body == ""
        assert submitted[1]["view"]["state"]["values"]["note"]["text"] == {
            "type": "plain_text_input",
            "value": None,
        }
        assert slack.views[view_id]["open"] is False
        assert slack.view_anomalies == []
        with pytest.raises(ValueError, match="closed"):
            slack.view_submission_payload(view_id, {"who": {"user": "U0ALICE"}})
    finally:
        await runner.cleanup()


async def test_view_submission_refuses_what_slacks_client_would_not_send(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    select = {
        "type": "input",
        "block_id": "lang",
        "label": {"type": "plain_text", "text": "Language"},
        "element": {
            "type": "static_select",
            "action_id": "pick",
            "options": [
                {"text": {"type": "plain_text", "text": t}, "value": t.lower()}
                for t in ("English", "German")
            ],
        },
    }
    view = modal(blocks=[*modal()["blocks"], select])
    view_id = (await client.views_open(trigger_id=trigger(slack, "U0ALICE"), view=view))["view"][
        "id"
    ]
    ok = {"who": {"user": "U0ALICE"}, "lang": {"pick": "german"}}
    payload = slack.view_submission_payload(view_id, ok)
    assert payload["view"]["state"]["values"]["lang"]["pick"] == {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "German"}, "value": "german"},
    }
    assert payload["trigger_id"] in slack.triggers
    refused = [
        ({**ok, "nope": {"user": "U0ALICE"}}, "no input block"),
        ({**ok, "who": {"other": "U0ALICE"}}, "no action_id"),
        ({**ok, "lang": {"pick": "french"}}, "not an option"),
        ({**ok, "who": {"user": "U0NOBODY"}}, "no active user"),
        ({"lang": {"pick": "german"}}, "required"),
        ({**ok, "note": {"text": "x" * 21}}, "0..20 characters"),
        ({**ok, "who": {"user": {"type": "plain_text_input", "value": "x"}}}, "users_select"),
    ]
    for values, why in refused:
        with pytest.raises(ValueError, match=why):
            slack.view_submission_payload(view_id, values)
    with pytest.raises(ValueError, match="open for U0ALICE"):
        slack.view_submission_payload(view_id, ok, user="U0BOT")
    with pytest.raises(ValueError, match="no view"):
        slack.view_submission_payload("V0NOPE", ok)


async def test_answers_slack_would_not_honour_are_recorded(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    app = bolt_app(slack)
    answers = iter(
        [
            {"response_action": "errors", "errors": {"missing": "x"}},
            {"response_action": "update", "view": modal(title={"type": "plain_text", "text": ""})},
            {"response_action": "update", "view": modal(callback_id="second")},
            {"response_action": "push", "view": modal(callback_id="third")},
            {"response_action": "clear"},
        ]
    )

    @app.view("speakers")
    async def on_submit(ack: Any) -> None:
        await ack(**next(answers))

    runner, url = await serve(app.web_app())
    try:
        view_id = (await client.views_open(trigger_id=trigger(slack), view=modal()))["view"]["id"]
        values = {"who": {"user": "U0ALICE"}}
        await slack.send_view_submission(url, view_id, values)
        await slack.send_view_submission(url, view_id, values)
        assert [a["problem"] for a in slack.view_anomalies] == [
            "errors name no input block",
            "invalid update view",
        ]
        await slack.send_view_submission(url, view_id, values)
        assert slack.view(view_id)["callback_id"] == "second"
        app.view("second")(on_submit)
        await slack.send_view_submission(url, view_id, values)
        pushed = slack.views_opened[-1]
        assert pushed["previous_view_id"] == view_id and pushed["root_view_id"] == view_id
        app.view("third")(on_submit)
        await slack.send_view_submission(url, pushed["id"], values)
        assert not slack.views[view_id]["open"] and not slack.views[pushed["id"]]["open"]
    finally:
        await runner.cleanup()


async def test_view_submission_over_socket_mode_acks_with_the_answer(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    app = bolt_app(slack)

    @app.view("speakers")
    async def on_submit(ack: Any) -> None:
        await ack(response_action="errors", errors={"who": "Pick someone else"})

    @app.action("transcript_delete")
    async def on_delete(ack: Any) -> None:
        await ack()

    handler = AsyncSocketModeHandler(app, slack.app_token)
    await handler.connect_async()
    try:
        view_id = (await client.views_open(trigger_id=trigger(slack), view=modal()))["view"]["id"]
        ack = await slack.socket_send_view_submission(view_id, {"who": {"user": "U0ALICE"}})
        assert ack["payload"] == {
            "response_action": "errors",
            "errors": {"who": "Pick someone else"},
        }
        assert slack.views[view_id]["open"] and slack.view_anomalies == []
        posted = await client.chat_postMessage(
            channel="C0GENERAL", text="t", blocks=_actions_blocks()
        )
        ack = await slack.socket_send_block_action_from_message(
            posted["message"], "transcript_delete"
        )
        assert ack == {"envelope_id": slack.socket_envelopes[-1]["envelope_id"]}
        assert slack.socket_envelopes[-1]["payload"]["actions"][0]["value"] == "job-1"
    finally:
        await handler.close_async()


# --- block_actions ------------------------------------------------------------------------------


def _actions_blocks() -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Transcript"}},
        {
            "type": "actions",
            "block_id": "transcript_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "transcript_delete",
                    "text": {"type": "plain_text", "text": "Delete"},
                    "value": "job-1",
                    "style": "danger",
                },
                {
                    "type": "static_select",
                    "action_id": "transcript_download",
                    "placeholder": {"type": "plain_text", "text": "Download"},
                    "options": [
                        {"text": {"type": "plain_text", "text": t.upper()}, "value": t}
                        for t in ("txt", "srt", "vtt")
                    ],
                },
            ],
        },
    ]


async def test_block_actions_come_from_what_the_bot_posted(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    app = bolt_app(slack)
    seen: list[dict[str, Any]] = []
    modals: list[dict[str, Any]] = []

    @app.action("transcript_delete")
    async def on_delete(ack: Any, body: dict, client: AsyncWebClient) -> None:
        await ack()
        seen.append(body)
        # The trigger of a block action opens a modal, like a slash command's.
        modals.append(await client.views_open(trigger_id=body["trigger_id"], view=modal()))

    @app.action("transcript_download")
    async def on_download(ack: Any, body: dict) -> None:
        await ack()
        seen.append(body)

    runner, url = await serve(app.web_app())
    try:
        parent = slack.post_user_message("C0GENERAL", text="clip")
        posted = await client.chat_postMessage(
            channel="C0GENERAL", thread_ts=parent["ts"], text="t", blocks=_actions_blocks()
        )
        message = posted["message"]
        sent = await slack.send_block_action_from_message(url, message, "transcript_delete")
        assert sent.status == 200
        await slack.send_block_action_from_message(
            url, message, "transcript_download", selected_value="srt", user="U0BOT"
        )
        for _ in range(100):
            if len(seen) == 2 and modals:
                break
            await asyncio.sleep(0.02)
        click, choice = seen
        assert click["container"] == {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": "C0GENERAL",
            "is_ephemeral": False,
            "thread_ts": parent["ts"],
        }
        button = click["actions"][0]
        assert (button["type"], button["block_id"], button["value"], button["style"]) == (
            "button",
            "transcript_actions",
            "job-1",
            "danger",
        )
        assert click["message"]["blocks"] == message["blocks"]
        selected = choice["actions"][0]
        assert selected["type"] == "static_select"
        assert selected["selected_option"] == {
            "text": {"type": "plain_text", "text": "SRT"},
            "value": "srt",
        }
        assert choice["user"]["id"] == "U0BOT"
        assert modals[0]["view"]["id"] == slack.views_opened[0]["id"]
        assert slack.views[modals[0]["view"]["id"]]["user"] == "U0ALICE"
    finally:
        await runner.cleanup()


async def test_block_action_helper_fails_loudly(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="t", blocks=_actions_blocks())
    message = posted["message"]
    with pytest.raises(ValueError, match="no element"):
        slack.action_from_message(message, "transcript_share")
    with pytest.raises(ValueError, match="not an option"):
        slack.action_from_message(message, "transcript_download", selected_value="pdf")
    with pytest.raises(ValueError, match="say which option"):
        slack.action_from_message(message, "transcript_download")
    with pytest.raises(ValueError, match="button"):
        slack.action_from_message(message, "transcript_delete", selected_value="txt")
    # After chat.update the message offers what the update says, and nothing else.
    await client.chat_update(channel="C0GENERAL", ts=message["ts"], text="done", blocks=[])
    with pytest.raises(ValueError, match="no element"):
        slack.action_from_message(message, "transcript_delete")
    # A top-level message has no thread_ts in its container; unnamed blocks get a block_id.
    blocks = _actions_blocks()
    del blocks[1]["block_id"]
    top = (await client.chat_postMessage(channel="C0GENERAL", text="t", blocks=blocks))["message"]
    payload = slack.action_from_message(top, "transcript_delete")
    assert "thread_ts" not in payload["container"]
    assert payload["actions"][0]["block_id"] == payload["message"]["blocks"][1]["block_id"]


async def test_hand_made_static_select_action(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    got: list[dict[str, Any]] = []

    @app.action("transcript_download")
    async def on_download(ack: Any, action: dict) -> None:
        await ack()
        got.append(action)

    runner, url = await serve(app.web_app())
    try:
        message = slack.post_user_message("C0GENERAL", text="x")
        option = {"text": {"type": "plain_text", "text": "SRT"}, "value": "srt"}
        sent = await slack.send_block_action(
            url, action_id="transcript_download", message=message, selected_option=option
        )
        assert sent.status == 200
        assert got[0]["type"] == "static_select" and got[0]["selected_option"] == option
    finally:
        await runner.cleanup()


async def test_response_url_of_a_block_action_replaces_or_deletes_the_message(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    app = bolt_app(slack)

    @app.action("transcript_delete")
    async def on_delete(ack: Any, respond: Any) -> None:
        await ack()
        await respond(delete_original=True)

    @app.action("transcript_download")
    async def on_download(ack: Any, respond: Any) -> None:
        await ack()
        await respond(replace_original=True, text="Sent you the file")

    runner, url = await serve(app.web_app())
    try:
        message = (
            await client.chat_postMessage(channel="C0GENERAL", text="t", blocks=_actions_blocks())
        )["message"]
        await slack.send_block_action_from_message(
            url, message, "transcript_download", selected_value="txt"
        )
        for _ in range(100):
            if slack.bot_replies("C0GENERAL")[0]["text"] == "Sent you the file":
                break
            await asyncio.sleep(0.02)
        assert slack.bot_replies("C0GENERAL")[0]["blocks"] == []
        await client.chat_update(
            channel="C0GENERAL", ts=message["ts"], text="t", blocks=_actions_blocks()
        )
        await slack.send_block_action_from_message(url, message, "transcript_delete")
        for _ in range(100):
            if not slack.bot_replies("C0GENERAL"):
                break
            await asyncio.sleep(0.02)
        assert slack.bot_replies("C0GENERAL") == []
    finally:
        await runner.cleanup()
