"""Turns what Slack sends into jobs: which events deserve work, and which job.

Handlers call these methods after parsing and before answering Slack; every
method is fast (a journal write, at most a store read), because the HTTP answer
waits for it. Anything that needs the Web API (finding a linked message, checking
that the bot can read a channel) runs later, in a `locate` job (`bot.jobs.locate`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from bot.jobs.spec import Job, answer_job_id, locate_job_id, transcribe_job_id
from bot.queue.base import JobQueue
from bot.slack.commands import MAX_TERM_CHARS, MAX_VOCABULARY_TERMS, Command
from bot.slack.files import is_file_stub, media_files
from bot.slack.permissions import ADMINS, PermissionCheckFailed, Permissions
from bot.slack.text import escape_mrkdwn
from bot.store.base import ChannelSettings, Store

logger = logging.getLogger(__name__)

_SETTINGS_CACHE_SIZE = 10_000

#: Message subtypes that are someone saying something; everything else (edits, deletions,
#: joins, topic changes, …) is not a share and is ignored.
_SPOKEN_SUBTYPES = frozenset({None, "", "file_share", "thread_broadcast", "bot_message"})


@dataclass(frozen=True)
class IntakeConfig:
    auto_transcribe: bool = True
    answer_other_bots: bool = False
    #: How long channel settings are used from memory: 0 (Redis mode: another instance
    #: may change them); in embedded mode settings change only in the serving process.
    settings_ttl_s: float = 0.0


class Intake:
    def __init__(
        self,
        *,
        queue: JobQueue,
        store: Store,
        config: IntakeConfig,
        permissions: Permissions,
    ) -> None:
        self.queue = queue
        self.store = store
        self.config = config
        self.permissions = permissions
        self._settings: dict[str, tuple[ChannelSettings, float]] = {}

    async def auto_enabled(self, channel_id: str, channel_type: str | None = None) -> bool:
        if channel_type == "im":
            return True  # a clip sent to the bot directly is a request
        settings = await self._channel_settings(channel_id)
        if settings.auto_transcribe is None:
            return self.config.auto_transcribe
        return settings.auto_transcribe

    async def _channel_settings(self, channel_id: str) -> ChannelSettings:
        """The channel's settings, from memory when read in the last SETTINGS_TTL_S.

        Every shared file needs them before its ack; a SQLite read there waits behind the
        journal's writes (bench/steady.py). Kept only where this process is the only one
        that changes them (embedded mode: `settings_ttl_s`); changes here apply at once.
        """
        now = time.monotonic()
        hit = self._settings.get(channel_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        settings = await self.store.get_channel_settings(channel_id)
        if len(self._settings) >= _SETTINGS_CACHE_SIZE:
            self._settings.clear()  # a crude bound: reading them again is cheap
        self._settings[channel_id] = (settings, now + self.config.settings_ttl_s)
        return settings

    def ignored(self, event: dict[str, Any], bot_user_id: str | None = None) -> bool:
        """Edits, deletions and other non-messages; the bot itself; other bots unless allowed."""
        if event.get("subtype") not in _SPOKEN_SUBTYPES or event.get("hidden"):
            return True
        if bot_user_id and event.get("user") == bot_user_id:
            return True
        from_bot = bool(event.get("bot_id")) or event.get("subtype") == "bot_message"
        return from_bot and not self.config.answer_other_bots

    async def message(
        self, event: dict[str, Any], *, team_id: str = "", bot_user_id: str | None = None
    ) -> int:
        """A `message` event: one job per media file if the channel wants it (DMs always).

        In a DM, plain text in a transcribed thread is a question about the recording
        (mentions, which carry questions in channels, do not exist there).
        """
        if self.ignored(event, bot_user_id):
            return 0
        channel = str(event.get("channel") or "")
        channel_type = event.get("channel_type")
        files = media_files(event.get("files"))
        if not files:
            if channel_type == "im" and event.get("thread_ts") and not event.get("files"):
                return int(await self._dm_question(event, team_id=team_id))
            return 0
        if not await self.auto_enabled(channel, channel_type):
            return 0
        # A clip sent to the bot directly is a request; a stub sent to it may be any file,
        # and a DM'd PDF gets the same silence whether Slack sent it whole or as a stub.
        return await self._submit_files(
            event,
            channel_id=channel,
            user_id=str(event.get("user") or ""),
            team_id=team_id,
            requested=channel_type == "im",
            stubs_requested=False,
        )

    async def _dm_question(self, event: dict[str, Any], *, team_id: str) -> bool:
        channel = str(event.get("channel") or "")
        thread_ts = str(event.get("thread_ts") or "")
        text = str(event.get("text") or "").strip()
        if not text or await self.store.thread_transcript(channel, thread_ts) is None:
            return False
        return await self.question(
            channel_id=channel,
            thread_ts=thread_ts,
            message_ts=str(event.get("ts") or ""),
            user_id=str(event.get("user") or ""),
            text=text,
            team_id=team_id,
        )

    async def _submit_files(
        self,
        message: dict[str, Any],
        *,
        channel_id: str,
        user_id: str,
        team_id: str,
        requested: bool,
        stubs_requested: bool = True,
    ) -> int:
        """One job per file that is, or may be, media. Stubs and files hidden by the plan's
        limit carry no download link: their job looks the file up with files.info."""
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
                    requested=requested and (stubs_requested or not is_file_stub(file)),
                    file=file if file.get("url_private_download") else None,
                )
            )
        return created

    async def request_message(
        self,
        *,
        channel_id: str,
        message: dict[str, Any],
        user_id: str,
        team_id: str = "",
    ) -> int:
        """Someone asked for this message's media (a mention that carries the files itself)."""
        return await self._submit_files(
            message, channel_id=channel_id, user_id=user_id, team_id=team_id, requested=True
        )

    async def locate(
        self,
        *,
        channel_id: str,
        user_id: str,
        request_id: str,
        team_id: str = "",
        thread_ts: str = "",
        message_ts: str = "",
        file_id: str = "",
        question: str | None = None,
        response_url: str = "",
        language: str | None = None,
        translate_to: str | None = None,
    ) -> bool:
        """Work out later, with the Web API, which media is meant, and transcribe it.

        `file_id` → that file; `message_ts` → that message's media; `thread_ts` → the
        newest media without a transcript in that thread; nothing → in the channel.
        A `question` is answered once the transcript is there.
        """
        return await self.queue.submit(
            Job(
                id=locate_job_id(channel_id, request_id),
                kind="locate",
                team_id=team_id,
                channel_id=channel_id,
                thread_ts=thread_ts,
                message_ts=message_ts,
                file_id=file_id,
                user_id=user_id,
                requested=True,
                question=question or None,
                response_url=response_url,
                language=language,
                translate_to=translate_to,
            )
        )

    async def question(
        self,
        *,
        channel_id: str,
        thread_ts: str,
        message_ts: str,
        user_id: str,
        text: str,
        team_id: str = "",
    ) -> bool:
        """A question in a thread that has a transcript: answered from it."""
        return await self.queue.submit(
            Job(
                id=answer_job_id(channel_id, message_ts),
                kind="answer",
                team_id=team_id,
                channel_id=channel_id,
                thread_ts=thread_ts,
                message_ts=message_ts,
                user_id=user_id,
                requested=True,
                question=text,
            )
        )

    async def has_transcript(self, channel_id: str, thread_ts: str) -> bool:
        return await self.store.thread_transcript(channel_id, thread_ts) is not None

    async def apply_setting(self, channel_id: str, command: Command, user_id: str) -> str:
        """`/transcribe auto|language|translate` by `user_id`: the answer to show them.

        Only admins change a channel's settings (`bot.slack.permissions`; the check may
        ask Slack, within the time the answer allows); anyone else is told who may.
        """
        try:
            allowed = await self.permissions.is_admin(user_id)
        except PermissionCheckFailed:
            logger.warning("could not check the role of %s", user_id, exc_info=True)
            return (
                "I couldn't check with Slack whether you may change this channel's settings, "
                "so nothing changed. Try again in a moment."
            )
        if not allowed:
            return (
                f"Only {ADMINS} can change this channel's settings, so nothing changed. "
                "Vocabulary (`/transcribe vocabulary`) is open to everyone. "
                + await self.describe_channel(channel_id)
            )
        field = {"auto": "auto_transcribe", "language": "language", "translate": "translate_to"}
        saved = await self.store.update_channel_settings(
            channel_id, **{field[command.action]: command.value}
        )
        self._settings[channel_id] = (saved, time.monotonic() + self.config.settings_ttl_s)
        return "Saved. " + await self.describe_channel(channel_id)

    async def vocabulary(self, channel_id: str, command: Command) -> str:
        """`/transcribe vocabulary add|remove|list`: the answer to show the person."""
        limits = f"at most {MAX_VOCABULARY_TERMS} terms, each up to {MAX_TERM_CHARS} characters"
        if command.value == "add":
            have = await self.store.get_vocabulary(channel_id)
            known = {t.casefold() for t in have}
            fresh = list(dict.fromkeys(t for t in command.terms if t.casefold() not in known))
            room = MAX_VOCABULARY_TERMS - len(have)
            if len(fresh) > room:
                return (
                    f"This channel's vocabulary has {len(have)} terms; adding {len(fresh)} "
                    f"would pass the limit ({limits}). Remove some first."
                )
            terms = await self.store.add_vocabulary(channel_id, fresh)
            return f"Added {len(fresh)}. " + _vocabulary_listing(terms, limits)
        if command.value == "remove":
            removed = await self.store.remove_vocabulary(channel_id, command.terms[0])
            terms = await self.store.get_vocabulary(channel_id)
            if removed is None:
                return (
                    f"`{escape_mrkdwn(command.terms[0])}` is not in this channel's vocabulary. "
                    + (_vocabulary_listing(terms, limits))
                )
            return f"Removed `{escape_mrkdwn(removed)}`. " + _vocabulary_listing(terms, limits)
        return _vocabulary_listing(await self.store.get_vocabulary(channel_id), limits)

    async def describe_channel(self, channel_id: str) -> str:
        s = await self.store.get_channel_settings(channel_id)
        auto = self.config.auto_transcribe if s.auto_transcribe is None else s.auto_transcribe
        return (
            f"Settings here: automatic transcription *{'on' if auto else 'off'}*"
            f"{' (default)' if s.auto_transcribe is None else ''} · "
            f"language: *{s.language or 'auto-detect'}* · "
            f"translation: *{s.translate_to or 'off'}*"
        )

    def describe_defaults(self) -> str:
        auto = "on" if self.config.auto_transcribe else "off"
        bots = "answered" if self.config.answer_other_bots else "ignored"
        return (
            f"Defaults for every channel: automatic transcription *{auto}*, language "
            f"*auto-detect*, translation *off*. Files from other bots are {bots}."
        )


def _vocabulary_listing(terms: list[str], limits: str) -> str:
    """The vocabulary as a person reads it; every term escaped (users typed them)."""
    if not terms:
        return (
            "This channel has no vocabulary yet. Add names and terms Gemini should spell "
            f'your way: `/transcribe vocabulary add Kubernetes "Ana Lucía"` ({limits}).'
        )
    listed = ", ".join(f"`{escape_mrkdwn(t)}`" for t in terms)
    return (
        f"Vocabulary here ({len(terms)} of {MAX_VOCABULARY_TERMS}; {limits}), sent to Gemini "
        f"as spelling hints: {listed}"
    )
