"""Who may change what: workspace admins and owners, and the users of SCRIBE_ADMINS.

One rule for channel settings (`/transcribe auto|language|translate`) and for deleting a
transcript someone else shared. The workspace role comes from `users.info`
(`is_admin`, `is_owner`, `is_primary_owner`); SCRIBE_ADMINS needs no call.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

#: Who the rule lets in, as people are told when it keeps them out.
ADMINS = "workspace admins and owners, and the admins named in this app's settings"

#: How long a listener trusts a users.info answer (a role rarely changes; a few minutes'
#: delay for a promotion or a demotion is the price of one call per person, not per command).
ROLE_CACHE_S = 300.0
#: The most a listener waits for users.info: the slash command's answer waits for it, and
#: Slack gives up at 3 s.
ROLE_TIMEOUT_S = 1.5
_CACHE_SIZE = 5000


class PermissionCheckFailed(Exception):
    """Slack did not say in time whether the person is an admin: nothing is changed."""


#: The workspace each token belongs to (auth.test), asked once per process.
_HOME_TEAMS: dict[str, str] = {}


async def home_team(slack: AsyncWebClient) -> str:
    """The workspace the app is installed in: whose admins count (not a click's `team`,
    which in a Slack Connect channel may be the clicker's own organisation)."""
    key = slack.token or ""
    if key not in _HOME_TEAMS:
        _HOME_TEAMS[key] = str((await slack.auth_test()).get("team_id") or "")
    return _HOME_TEAMS[key]


async def is_workspace_admin(slack: AsyncWebClient, user_id: str, team_id: str = "") -> bool:
    """Is `user_id` an admin or owner of the workspace `team_id`? Someone Slack does not
    show: no. A Slack Connect partner's user: no, whatever their role at home (users.info
    gives their own organisation's `team_id` and role).

    Other Slack errors are raised (a job retries them; a listener refuses to guess).
    """
    if not user_id:
        return False
    try:
        resp = await slack.users_info(user=user_id)
    except SlackApiError as exc:
        if exc.response.get("error") in ("user_not_found", "user_not_visible"):
            return False
        raise
    user = resp.get("user") or {}
    if user.get("is_stranger") or (team_id and user.get("team_id") not in (None, team_id)):
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


class Permissions:
    """The rule as a listener applies it: before the answer Slack waits for.

    The check runs in the slash command's listener rather than in a job: a settings change
    is typed by a person, a few a day, and one users.info (Tier 4, ~0.1-0.3 s) keeps the
    outcome — "Saved" with the new settings, or why not — in the command's own answer. A
    job would need a job kind of its own and a second message through response_url for
    what one call settles. To keep the answer inside Slack's 3 s anyway: SCRIBE_ADMINS
    needs no call; roles are cached per person for ROLE_CACHE_S; the call gets at most
    ROLE_TIMEOUT_S on a client that does not wait out rate limits (`slack`), and past that
    the person is told to try again and nothing changes.
    """

    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        admins: frozenset[str],
        cache_s: float = ROLE_CACHE_S,
        timeout_s: float = ROLE_TIMEOUT_S,
    ) -> None:
        self._slack = slack
        self.admins = admins
        self._cache_s = cache_s
        self._timeout_s = timeout_s
        self._roles: dict[str, tuple[bool, float]] = {}

    def listed(self, user_id: str) -> bool:
        """Is `user_id` one of SCRIBE_ADMINS? (No call.)"""
        return bool(user_id) and user_id in self.admins

    async def is_admin(self, user_id: str) -> bool:
        """SCRIBE_ADMINS, or a workspace admin or owner; raises `PermissionCheckFailed`
        when Slack does not answer in time (or answers with an error)."""
        if self.listed(user_id):
            return True
        now = time.monotonic()
        cached = self._roles.get(user_id)
        if cached is not None and now - cached[1] < self._cache_s:
            return cached[0]
        try:
            async with asyncio.timeout(self._timeout_s):
                team = await home_team(self._slack)
                admin = await is_workspace_admin(self._slack, user_id, team)
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            raise PermissionCheckFailed(user_id) from exc
        if len(self._roles) >= _CACHE_SIZE:
            self._roles.clear()  # a crude bound: roles are cheap to ask again
        self._roles[user_id] = (admin, now)
        return admin
