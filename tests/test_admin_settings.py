"""Who may change a channel's settings: workspace admins and owners, and SCRIBE_ADMINS.

Everyone else is told so in the command's own (ephemeral) answer, and nothing changes.
The role comes from users.info while Slack waits for that answer, so the answer must stay
inside Slack's 3 s even when users.info does not come back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.asking import ACK_LIMIT_S, CHANNEL, running
from tests.conftest import Server
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SentRequest, SlackEmulator

BOB = "U0BOB"  # a member, nobody special
LISTED = "U0LISTED"  # one of SCRIBE_ADMINS
ADMIN = "U0ADA"
OWNER = "U0OWEN"
SETTINGS = ("auto off", "language de", "translate en")


@pytest.fixture(autouse=True)
def people(slack: SlackEmulator) -> None:
    slack.add_user(BOB, name="bob", real_name="Bob Builder")
    slack.add_user(LISTED, name="lis", real_name="Lis Listed")
    slack.add_user(ADMIN, name="ada", real_name="Ada Admin", is_admin=True)
    slack.add_user(OWNER, name="owen", real_name="Owen Owner", is_owner=True)


async def ask(slack: SlackEmulator, server: Server, text: str, user: str) -> str:
    """`/transcribe text` by `user`: the ephemeral answer, which came in time."""
    sent: SentRequest = await slack.send_slash_command(server.events_url, text=text, user=user)
    assert sent.status == 200, sent.body
    assert sent.elapsed_s < ACK_LIMIT_S
    answer = sent.json()
    assert answer.get("response_type") == "ephemeral"
    return str(answer.get("text", ""))


async def saved(server: Server) -> tuple[object, ...]:
    s = await server.runtime.store.get_channel_settings(CHANNEL)
    return (s.auto_transcribe, s.language, s.translate_to)


@pytest.mark.parametrize("admin", [LISTED, ADMIN, OWNER])
async def test_only_admins_change_settings_and_others_are_told_who_may(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path, admin: str
) -> None:
    async with running(slack, gemini, tmp_path, scribe_admins=f"{LISTED},U0NOBODY") as server:
        for text in SETTINGS:
            answer = await ask(slack, server, text, BOB)
            assert "nothing changed" in answer
            assert "workspace admins and owners" in answer and "app's settings" in answer
        assert await saved(server) == (None, None, None)
        # Vocabulary and help stay open to everyone.
        assert "Added 1" in await ask(slack, server, "vocabulary add Kubernetes", BOB)
        assert "Settings here" in await ask(slack, server, "help", BOB)

        for text in SETTINGS:
            assert (await ask(slack, server, text, admin)).startswith("Saved.")
        assert await saved(server) == (False, "de", "en")
        asked = [c.params.get("user") for c in slack.calls_to("users.info")]
        # SCRIBE_ADMINS need no call; a role is asked once per person for a while.
        assert asked == ([BOB] if admin == LISTED else [BOB, admin])


async def test_when_slack_does_not_say_in_time_nothing_changes(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    async def stall(n: int) -> None:
        if n == 1:
            await asyncio.sleep(ACK_LIMIT_S + 1)

    slack.before("users.info", stall)
    async with running(slack, gemini, tmp_path) as server:
        answer = await ask(slack, server, "auto off", ADMIN)
        assert "couldn't check" in answer and "nothing changed" in answer
        assert await saved(server) == (None, None, None)
        # Not remembered as a refusal: asked again, Slack answers and it applies.
        assert (await ask(slack, server, "auto off", ADMIN)).startswith("Saved.")
        assert await saved(server) == (False, None, None)
