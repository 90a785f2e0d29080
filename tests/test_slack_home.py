"""The App Home tab is published after Slack's ack, so a slow views.publish never delays it.

The app runs with `process_before_response=True` (the listener's journal write must land
before the ack); a listener that awaited views.publish would hold the ack while slack_sdk
waits out a 429's Retry-After, past Slack's 3 s, and Slack would deliver the event again.
"""

from __future__ import annotations

from tests.conftest import Server, settle, wait_for
from tests.emulators.slack import SlackEmulator

HOME_OPENED = {
    "type": "app_home_opened",
    "user": "U0ALICE",
    "channel": "D0ALICE",
    "tab": "home",
    "event_ts": "1700000000.000900",
}


async def test_rate_limited_views_publish_does_not_delay_the_ack(
    slack: SlackEmulator, server: Server
) -> None:
    slack.fail("views.publish", retry_after=3)
    sent = await slack.send_event(server.events_url, HOME_OPENED)
    assert sent.status == 200
    assert sent.elapsed_s < 1.0  # Slack allows 3 s; a 3 s Retry-After alone would pass it
    view = await wait_for(lambda: slack.home_views.get("U0ALICE"), timeout=10)
    assert "/transcribe" in str(view["blocks"])
    assert [c.status for c in slack.calls_to("views.publish")] == [429, 200]


async def test_failing_views_publish_still_acks_and_is_not_retried_by_slack(
    slack: SlackEmulator, server: Server
) -> None:
    slack.fail("views.publish", "internal_error", times=1)
    sent = await slack.send_event(server.events_url, HOME_OPENED)
    assert sent.status == 200 and sent.elapsed_s < 1.0
    await wait_for(lambda: slack.calls_to("views.publish"))
    await settle(server)
    assert slack.home_views == {}
    assert len(slack.calls_to("views.publish")) == 1
