"""Turns what Slack sends into jobs: which events deserve work, and which job.

Handlers call these methods after parsing and before answering Slack; every
method is fast (a journal write, at most a settings read), because the HTTP
answer waits for it. Anything that needs the Web API runs later in the job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.commands import Command
from bot.job_spec import Job, answer_job_id, transcribe_job_id
from bot.queue import JobQueue
from bot.slack_files import media_files
from bot.store import ChannelSettings, Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeConfig:
    auto_transcribe: bool = True
    answer_other_bots: bool = False


class Intake:
    def __init__(self, *, queue: JobQueue, store: Store, config: IntakeConfig) -> None:
        self.queue = queue
        self.store = store
        self.config = config

    async def auto_enabled(self, channel_id: str, channel_type: str | None = None) -> bool:
        if channel_type == "im":
            return True  # a clip sent to the bot directly is a request
        settings = await self.store.get_channel_settings(channel_id)
        if settings.auto_transcribe is None:
            return self.config.auto_transcribe
        return settings.auto_transcribe

    def _ignored_sender(self, event: dict[str, Any]) -> bool:
        if event.get("subtype") in ("message_changed", "message_deleted", "bot_message"):
            return not (event.get("subtype") == "bot_message" and self.config.answer_other_bots)
        return bool(event.get("bot_id") and not self.config.answer_other_bots)

    async def file_share_message(self, event: dict[str, Any], team_id: str = "") -> int:
        """A `message` event with files: one job per media file, if the channel wants it."""
        if self._ignored_sender(event):
            return 0
        files = media_files(event.get("files"))
        if not files:
            return 0
        channel = str(event.get("channel") or "")
        channel_type = event.get("channel_type")
        if not await self.auto_enabled(channel, channel_type):
            return 0
        ts = str(event.get("ts") or "")
        thread_ts = str(event.get("thread_ts") or ts)
        created = 0
        for file in files:
            job = Job(
                id=transcribe_job_id(channel, str(file["id"])),
                team_id=team_id,
                channel_id=channel,
                thread_ts=thread_ts,
                message_ts=ts,
                file_id=str(file["id"]),
                user_id=str(event.get("user") or ""),
                requested=channel_type == "im",
            )
            created += await self.queue.submit(job)
        return created

    async def file_shared(self, event: dict[str, Any], team_id: str = "") -> bool:
        """A `file_shared` event (file id only). Same job id as the message event's."""
        channel = str(event.get("channel_id") or "")
        file_id = str(event.get("file_id") or (event.get("file") or {}).get("id") or "")
        if not channel or not file_id:
            return False
        if not await self.auto_enabled(channel, "im" if channel.startswith("D") else None):
            return False
        return await self.queue.submit(
            Job(
                id=transcribe_job_id(channel, file_id),
                team_id=team_id,
                channel_id=channel,
                file_id=file_id,
                user_id=str(event.get("user_id") or ""),
                requested=channel.startswith("D"),
            )
        )

    async def request_message(
        self,
        *,
        channel_id: str,
        message: dict[str, Any],
        user_id: str,
        team_id: str = "",
    ) -> int:
        """Someone asked for this message's media (shortcut, message link)."""
        ts = str(message.get("ts") or "")
        thread_ts = str(message.get("thread_ts") or ts)
        created = 0
        for file in media_files(message.get("files")):
            created += await self.queue.submit(
                Job(
                    id=transcribe_job_id(channel_id, str(file["id"])),
                    team_id=team_id,
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    message_ts=ts,
                    file_id=str(file["id"]),
                    user_id=user_id,
                    requested=True,
                )
            )
        return created

    async def request_file(self, *, channel_id: str, file_id: str, user_id: str) -> bool:
        return await self.queue.submit(
            Job(
                id=transcribe_job_id(channel_id, file_id),
                channel_id=channel_id,
                file_id=file_id,
                user_id=user_id,
                requested=True,
            )
        )

    async def locate(
        self,
        *,
        channel_id: str,
        user_id: str,
        request_id: str,
        thread_ts: str = "",
        message_ts: str = "",
        question: str | None = None,
    ) -> bool:
        """Work out later (with the Web API) which media is meant, or answer a question."""
        return await self.queue.submit(
            Job(
                id=f"l:{channel_id}:{request_id}",
                kind="locate",
                channel_id=channel_id,
                thread_ts=thread_ts,
                message_ts=message_ts,
                user_id=user_id,
                requested=True,
                question=question or None,
            )
        )

    async def question(
        self, *, channel_id: str, thread_ts: str, message_ts: str, user_id: str, text: str
    ) -> bool:
        return await self.queue.submit(
            Job(
                id=answer_job_id(channel_id, message_ts),
                kind="answer",
                channel_id=channel_id,
                thread_ts=thread_ts,
                message_ts=message_ts,
                user_id=user_id,
                requested=True,
                question=text,
            )
        )

    async def apply_setting(self, channel_id: str, command: Command) -> ChannelSettings:
        field = {"auto": "auto_transcribe", "language": "language", "translate": "translate_to"}
        return await self.store.update_channel_settings(
            channel_id, **{field[command.action]: command.value}
        )

    async def describe_channel(self, channel_id: str) -> str:
        s = await self.store.get_channel_settings(channel_id)
        auto = self.config.auto_transcribe if s.auto_transcribe is None else s.auto_transcribe
        return (
            f"Automatic transcription here: *{'on' if auto else 'off'}*"
            f"{' (default)' if s.auto_transcribe is None else ''} · "
            f"language: *{s.language or 'auto-detect'}* · "
            f"translation: *{s.translate_to or 'off'}*"
        )
