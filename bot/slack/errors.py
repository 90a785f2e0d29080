"""Slack Web API errors a person can do something about, and what to tell them.

One table for every path that meets them: a job looking up its file, `/transcribe`
following a link, the shortcut reading a message.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.errors import PartialDeliveryError

INVITE = "`/invite @slack-scribe`"

_MESSAGES = {
    "not_in_channel": "I'm not a member of <#{channel}>, so I can't read it. Invite me there "
    f"with {INVITE}, then ask again.",
    "channel_not_found": "I can't see that conversation: it's private and I'm not in it, or it "
    f"belongs to another workspace. Invite me to it with {INVITE}, or share the recording in "
    "a channel I'm in (or send it to me directly).",
    "thread_not_found": "I couldn't find that message: it may have been deleted, or the link "
    "is incomplete. Copy the link again with *Copy link* on the message.",
    "message_not_found": "I couldn't find that message: it may have been deleted.",
    "file_not_found": "I can't see that file: it was deleted, or it is only shared where I'm "
    f"not a member. Invite me to the channel it was shared in with {INVITE}, then share it "
    "again or ask again.",
    "file_deleted": "That file was deleted, so there is nothing to transcribe.",
    # files.info, Slack Connect: the partner organisation does not let apps open the file.
    "access_denied": "Slack won't let me open that file: it belongs to another organisation "
    "in this Slack Connect conversation. Ask the person who shared it to upload it here "
    "again, or to send it to me directly.",
    "not_visible": "I'm not allowed to see that file. Invite me to the channel it was shared "
    f"in with {INVITE}, then ask again.",
}


def user_message(error: str, *, channel: str = "") -> str | None:
    """What to tell a person about Slack's `error`, or None when it is not theirs to fix."""
    text = _MESSAGES.get(error)
    return None if text is None else text.format(channel=channel)


def slack_error_words(exc: Exception) -> str:
    """What Slack said, for a sentence that tells people (never a traceback)."""
    if isinstance(exc, SlackApiError):
        return f"Slack answered: {exc.response.get('error') or 'an error'}"
    return f"{type(exc).__name__}"


def _parts(indices: list[int]) -> str:
    words = [str(i + 1) for i in indices]
    return ("part " if len(words) == 1 else "parts ") + ", ".join(words)


def partial_delivery(present: set[int], total: int, cause: Exception) -> PartialDeliveryError:
    """Which parts of a reply are in the thread and which Slack refused (`present`: indices)."""
    missing = [i for i in range(total) if i not in present]
    return PartialDeliveryError(
        f"I posted {_parts(sorted(present))} of {total} of the transcript above, but could not "
        f"post {_parts(missing)} ({slack_error_words(cause)}). Mention me in this thread and I'll "
        "post what is missing."
    )
