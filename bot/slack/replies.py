"""The one gateway to a job's thread: every message, reaction and notice goes through here.

Replies carry a marker `block_id` (`reply_marker`), so a run that resumes after a crash, a
retry after a failure, or a worker that took a job over finds what is already in the
thread (`posted`) and posts only what is missing. Before each post the run confirms that
it still owns its job (`confirm_lease`): a run that lost it to another worker posts
nothing. Reactions go through a client that does not wait out rate limits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import PartialDeliveryError
from bot.jobs.spec import Job, reply_marker
from bot.queue.base import LeaseLost, confirm_lease
from bot.slack.errors import partial_delivery, slack_error_words
from bot.slack.messages import Attachment, Delivery, SlackMessage
from bot.slack.render import render_failure

logger = logging.getLogger(__name__)

#: users.info is Tier 4 (~100/min); display names are cached per process.
_NAME_CACHE_SIZE = 5000

WORKING = "hourglass_flowing_sand"
DONE = "white_check_mark"
FAILED = "warning"


@dataclass
class Posted:
    """What a job already has in its thread: marker block ids (→ the message's ts), and
    titles of its files."""

    markers: dict[str, str] = field(default_factory=dict)
    file_titles: set[str] = field(default_factory=set)
    #: The ids of those files, by title.
    file_ids: dict[str, str] = field(default_factory=dict)


@dataclass
class OwnReplies:
    """The bot's replies in a thread (their ts) and the files it uploaded there (ids)."""

    messages: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


class Replies:
    def __init__(
        self, slack: AsyncWebClient, *, decor: AsyncWebClient, http: aiohttp.ClientSession
    ) -> None:
        self._slack = slack
        self._decor = decor
        self._http = http
        self._names: dict[str, str | None] = {}
        #: The bot's user id and bot id (auth.test), to tell its messages in a thread.
        self._me: tuple[str, str] | None = None

    async def thread_messages(
        self, job: Job, *, missing_ok: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """Every message of the job's thread, all pages; a thread that is gone has none
        (`missing_ok`), else its `thread_not_found` is raised."""
        cursor: str | None = None
        while True:
            try:
                resp = await self._slack.conversations_replies(
                    channel=job.channel_id, ts=job.thread_ts, cursor=cursor, limit=200
                )
            except SlackApiError as exc:
                if missing_ok and exc.response.get("error") == "thread_not_found":
                    return
                raise
            for msg in resp.get("messages") or []:
                yield msg
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    async def posted(self, job: Job) -> Posted:
        """This job's messages and files already in its thread (all pages)."""
        marker = reply_marker(job.id)
        found = Posted()
        async for msg in self.thread_messages(job):
            for block in msg.get("blocks") or []:
                block_id = str(block.get("block_id") or "")
                if block_id.startswith(marker):
                    found.markers[block_id] = str(msg.get("ts") or "")
            # Files an app posted (ours are): a person's upload of the same title is
            # neither ours to skip posting for nor ours to delete.
            for file in msg.get("files") or [] if msg.get("bot_id") else []:
                found.file_titles.add(str(file.get("title")))
                found.file_ids[str(file.get("title"))] = str(file.get("id") or "")
        return found

    async def post(self, job: Job, message: SlackMessage, marker: str) -> str:
        """Post in the job's thread; the first block carries `marker`. Returns the ts."""
        await confirm_lease()  # a run that lost its job to another worker posts nothing
        blocks = [dict(b) for b in message.blocks]
        if blocks:
            blocks[0]["block_id"] = marker
        resp = await self._slack.chat_postMessage(
            channel=job.channel_id,
            thread_ts=job.thread_ts or None,
            text=message.text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(resp["ts"])

    async def update(
        self, job: Job, ts: str, message: SlackMessage, marker: str, *, best_effort: bool = False
    ) -> None:
        """Replace the bot's message `ts` in the job's thread; its first block gets `marker`.

        `best_effort` (status edits): one try, no waiting out a rate limit, errors logged.
        """
        await confirm_lease()
        blocks = [dict(b) for b in message.blocks]
        if blocks:
            blocks[0]["block_id"] = marker
        client = self._decor if best_effort else self._slack
        try:
            await client.chat_update(
                channel=job.channel_id, ts=ts, text=message.text, blocks=blocks
            )
        except SlackApiError as exc:
            if not best_effort:
                raise
            logger.info("status edit skipped: %s", exc.response.get("error"))

    async def delete(self, job: Job, ts: str) -> None:
        """Delete the bot's message `ts` in the job's channel (gone already is fine)."""
        await confirm_lease()
        try:
            await self._slack.chat_delete(channel=job.channel_id, ts=ts)
        except SlackApiError as exc:
            if exc.response.get("error") != "message_not_found":
                raise

    async def own_replies(self, job: Job) -> OwnReplies:
        """Every reply the bot posted in the job's thread, whatever job posted it
        (transcripts, status messages, warnings, answers, exports), and the files it
        uploaded there; never the thread's first message. A thread that is gone has none."""
        if self._me is None:
            me = await self._slack.auth_test()
            self._me = (str(me.get("user_id") or ""), str(me.get("bot_id") or ""))
        user_id, bot_id = self._me
        found = OwnReplies()
        async for msg in self.thread_messages(job, missing_ok=True):
            ts = str(msg.get("ts") or "")
            mine = (bot_id and msg.get("bot_id") == bot_id) or msg.get("user") == user_id
            if not mine or ts == job.thread_ts:
                continue
            found.messages.append(ts)
            found.files += [
                str(f["id"])
                for f in msg.get("files") or []
                if f.get("id") and f.get("user") == user_id
            ]
        return found

    async def delete_file(self, job: Job, file_id: str) -> None:
        """Delete a file the bot uploaded (gone already is fine)."""
        await confirm_lease()
        try:
            await self._slack.files_delete(file=file_id)
        except SlackApiError as exc:
            if exc.response.get("error") not in ("file_not_found", "file_deleted"):
                raise

    async def post_once(self, job: Job, message: SlackMessage, *, resumed: bool) -> None:
        """A one-message reply (an answer): posted unless a resumed run finds it there."""
        marker = reply_marker(job.id) + "-0"
        if resumed and marker in (await self.posted(job)).markers:
            return
        await self.post(job, message, marker)

    async def deliver(self, job: Job, delivery: Delivery, *, resumed: bool) -> str | None:
        """Post every part not yet in the thread; returns the first part's ts if posted now.

        A delivery that stops after some parts raises `PartialDeliveryError` saying which
        parts are there and which are missing; the next run posts only those.
        """
        marker = reply_marker(job.id)
        already = await self.posted(job) if resumed else Posted()
        total = len(delivery.messages)
        present = {i for i in range(total) if f"{marker}-{i}" in already.markers}
        first_ts: str | None = None
        for index, message in enumerate(delivery.messages):
            if index in present:
                continue
            try:
                ts = await self.post(job, message, f"{marker}-{index}")
            except (LeaseLost, asyncio.CancelledError):
                raise
            except Exception as exc:
                if not present:
                    raise  # nothing is in the thread: an ordinary failure
                raise partial_delivery(present, total, exc) from exc
            present.add(index)
            if index == 0:
                first_ts = ts
        titles = {a.title for a in delivery.attachments}
        if delivery.attachments and not (already.file_titles & titles):
            await confirm_lease()
            try:
                await self._slack.files_upload_v2(
                    channel=job.channel_id,
                    thread_ts=job.thread_ts,
                    file_uploads=[
                        {"content": a.content, "filename": a.filename, "title": a.title}
                        for a in delivery.attachments
                    ],
                )
            except SlackApiError as exc:
                raise PartialDeliveryError(
                    "I posted the transcript above, but Slack refused the files with the whole "
                    f"transcript ({slack_error_words(exc)}). Mention me in this thread and I'll "
                    "attach them."
                ) from exc
        return first_ts

    async def replace(self, job: Job, delivery: Delivery) -> str | None:
        """Make the job's reply in the thread be `delivery`, in place: parts already there
        are edited, missing ones posted, surplus ones deleted, files with the whole
        transcript uploaded anew. Safe to run again after a failure. Returns part 1's ts.
        """
        marker = reply_marker(job.id)
        already = await self.posted(job)
        first_ts: str | None = None
        for index, message in enumerate(delivery.messages):
            ts = already.markers.get(f"{marker}-{index}")
            if ts:
                await self.update(job, ts, message, f"{marker}-{index}")
            else:
                ts = await self.post(job, message, f"{marker}-{index}")
            if index == 0:
                first_ts = ts
        for block_id, ts in already.markers.items():
            part = block_id.removeprefix(marker + "-")
            if part.isdigit() and int(part) >= len(delivery.messages):
                await self.delete(job, ts)
        titles = {a.title for a in delivery.attachments}
        for title, file_id in already.file_ids.items():
            if title in titles and file_id:
                # The old transcript's file under the same title: replaced, not kept beside.
                await confirm_lease()
                try:
                    await self._slack.files_delete(file=file_id)
                except SlackApiError as exc:
                    # Someone else's file of that title (cant_delete_file), or gone already.
                    logger.info("kept file %s: %s", file_id, exc.response.get("error"))
        if delivery.attachments:
            await confirm_lease()
            await self._slack.files_upload_v2(
                channel=job.channel_id,
                thread_ts=job.thread_ts,
                file_uploads=[
                    {"content": a.content, "filename": a.filename, "title": a.title}
                    for a in delivery.attachments
                ],
            )
        return first_ts

    async def report_failure(self, job: Job, text: str, *, status_ts: str | None = None) -> None:
        """One `:warning:` reply per run in the thread (ephemeral when there is no thread).

        A job with a status message in the thread (`status_ts`) turns it into the warning.
        """
        try:
            if not job.thread_ts:
                await self.ephemeral(job, ":warning: " + text)
                return
            # One warning per run: a retry's failure is news, a resumed run's is not.
            marker = f"{reply_marker(job.id)}-w{job.retry}"
            if marker not in (await self.posted(job)).markers:
                warning = render_failure(text, job_id=job.id)
                try:
                    if status_ts is None:
                        raise LookupError("no status message")
                    await self.update(job, status_ts, warning, marker)
                except (LookupError, SlackApiError):
                    # No status message, or it was deleted meanwhile: a reply of its own.
                    await self.post(job, warning, marker)
            if job.kind in ("transcribe", "answer", "locate"):
                # A button's job failing (an export, a translation) says nothing about
                # the recording: its message keeps its reactions.
                await self.react(job, remove=WORKING, add=FAILED)
        except Exception:
            logger.exception("could not report the failure of job %s", job.id)

    async def ephemeral(self, job: Job, text: str) -> None:
        if not job.user_id:
            return
        await self._slack.chat_postEphemeral(
            channel=job.channel_id, user=job.user_id, text=text, thread_ts=job.thread_ts or None
        )

    async def tell_requester(self, job: Job, text: str) -> None:
        """A notice only the person who asked sees: through response_url, else ephemeral.

        response_url works even where the bot is not a member.
        """
        if job.response_url:
            try:
                async with self._http.post(
                    job.response_url,
                    json={"response_type": "ephemeral", "replace_original": False, "text": text},
                ) as resp:
                    if resp.status < 400:
                        return
                    logger.warning("response_url answered %s for job %s", resp.status, job.id)
            except aiohttp.ClientError as exc:
                logger.warning("response_url failed for job %s: %s", job.id, exc)
        try:
            await self.ephemeral(job, text)
        except SlackApiError as exc:
            logger.warning(
                "could not tell %s about job %s: %s",
                job.user_id,
                job.id,
                exc.response.get("error"),
            )

    async def react(self, job: Job, *, add: str | None = None, remove: str | None = None) -> None:
        ts = job.message_ts or job.thread_ts
        if not ts:
            return
        # Under a burst a missing hourglass is better than a transcript delayed by a minute.
        for method, name in (
            (self._decor.reactions_remove, remove),
            (self._decor.reactions_add, add),
        ):
            if name is None:
                continue
            try:
                await method(channel=job.channel_id, timestamp=ts, name=name)
            except SlackApiError as exc:
                # Reactions are decoration: already there, already gone, or not allowed.
                logger.debug("reaction %s: %s", name, exc.response.get("error"))

    async def display_name(self, user_id: str) -> str | None:
        if not user_id:
            return None
        if user_id in self._names:
            return self._names[user_id]
        try:
            resp = await self._slack.users_info(user=user_id)
        except SlackApiError:
            return None
        user = resp.get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
        if len(self._names) >= _NAME_CACHE_SIZE:
            self._names.clear()  # names rarely change; a crude bound is enough
        self._names[user_id] = str(name) if name else None
        return self._names[user_id]

    async def upload(self, job: Job, attachment: Attachment) -> dict[str, Any]:
        """Upload one file into the job's thread; returns Slack's file object (permalink)."""
        await confirm_lease()
        resp = await self._slack.files_upload_v2(
            channel=job.channel_id,
            thread_ts=job.thread_ts,
            content=attachment.content,
            filename=attachment.filename,
            title=attachment.title,
        )
        file = resp.get("file")
        return dict(file) if isinstance(file, dict) else {}
