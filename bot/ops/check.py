"""`slack-scribe check`: validate the settings and reach Slack, Gemini and the storage.

Every problem is one line that says what is wrong and how to fix it; the exit
status is 0 only when nothing is wrong. No secret is ever printed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import yaml
from google.genai import errors as genai_errors
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.gemini.client import build_client
from bot.gemini.config import GeminiConfig
from bot.settings import DEFAULT_SLACK_API_URL, Settings
from bot.slack.scopes import BOT_SCOPES

logger = logging.getLogger(__name__)

#: The bot scopes, for when no manifest.yml is at hand (an installed copy).
REQUIRED_BOT_SCOPES = BOT_SCOPES
#: Each remote check gives up after this long: check is for people waiting at a terminal.
CHECK_TIMEOUT_S = 20.0

_SLACK_TOKEN_ERRORS = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
}


@dataclass(frozen=True)
class Finding:
    """One line of the report: `ok` is False for a problem, whose text says how to fix it."""

    ok: bool
    topic: str
    text: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'problem':<8} {self.topic}: {self.text}"


def good(topic: str, text: str) -> Finding:
    return Finding(True, topic, text)


def problem(topic: str, text: str) -> Finding:
    return Finding(False, topic, text)


async def run_check(settings: Settings, out: TextIO | None = None) -> int:
    """Print one line per finding; 0 when there is no problem, else 1."""
    stream = out or sys.stdout
    findings: list[Finding] = []

    def report(new: Iterable[Finding]) -> None:
        for finding in new:
            findings.append(finding)
            print(finding.line(), file=stream, flush=True)

    report(check_settings(settings))
    report(await check_slack(settings))
    report(await check_gemini(settings))
    report(await check_storage(settings))
    problems = sum(not f.ok for f in findings)
    if problems:
        print(f"{problems} problem(s) found.", file=stream)
        return 1
    print("All good.", file=stream)
    return 0


# -- settings --------------------------------------------------------------------------------


def check_settings(settings: Settings) -> list[Finding]:
    """What can be judged without the network (types and shapes pydantic checked already)."""
    found: list[Finding] = []
    if settings.slack_bot_token is None:
        found.append(
            problem(
                "SLACK_BOT_TOKEN",
                "not set; copy the Bot User OAuth Token (xoxb-…) from your app's "
                "OAuth & Permissions page",
            )
        )
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        found.append(
            problem(
                "SLACK_SIGNING_SECRET",
                "neither it (for `serve`) nor SLACK_APP_TOKEN (for `socket`) is set; copy the "
                "Signing Secret from your app's Basic Information page",
            )
        )
    if settings.gemini_api_key is None:
        found.append(
            problem("GEMINI_API_KEY", "not set; create a key at Google AI Studio and set it")
        )
    url = urlsplit(settings.slack_api_url)
    if url.scheme != "https" and url.hostname not in ("localhost", "127.0.0.1", "::1"):
        found.append(
            problem(
                "SLACK_API_URL",
                f"{url.scheme}:// would send the bot token unencrypted; use "
                f"{DEFAULT_SLACK_API_URL} (or unset it)",
            )
        )
    if settings.redis_url:
        scheme = urlsplit(settings.redis_url).scheme
        if scheme not in ("redis", "rediss", "unix"):
            found.append(
                problem(
                    "REDIS_URL",
                    f"scheme {scheme or '(none)'!r} is not redis://, rediss:// or unix://; "
                    "use e.g. redis://localhost:6379/0",
                )
            )
    if not found:
        found.append(good("settings", "every setting is present and well-formed"))
    return found


# -- Slack -----------------------------------------------------------------------------------


def required_bot_scopes(manifest: Path | None = None) -> tuple[tuple[str, ...], str]:
    """The bot scopes from manifest.yml (given, or at the working dir or the checkout root)."""
    candidates = (
        [manifest]
        if manifest
        else [Path.cwd() / "manifest.yml", Path(__file__).resolve().parents[2] / "manifest.yml"]
    )
    for path in candidates:
        if path is None or not path.is_file():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            scopes = data["oauth_config"]["scopes"]["bot"]
        except (OSError, yaml.YAMLError, KeyError, TypeError):
            logger.warning("could not read the bot scopes from %s; using the built-in list", path)
            continue
        if isinstance(scopes, list) and scopes:
            return tuple(str(s) for s in scopes), str(path.name)
    return REQUIRED_BOT_SCOPES, "the built-in list"


def granted_scopes(headers: Mapping[str, Any] | None) -> set[str] | None:
    """Scopes from the `x-oauth-scopes` response header, None if Slack did not send it."""
    for name, value in (headers or {}).items():
        if str(name).lower() == "x-oauth-scopes":
            text = value[0] if isinstance(value, list) else value
            return {s.strip() for s in str(text).split(",") if s.strip()}
    return None


async def check_slack(settings: Settings, manifest: Path | None = None) -> list[Finding]:
    if settings.slack_bot_token is None:
        return []
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(CHECK_TIMEOUT_S),
    )
    found: list[Finding] = []
    try:
        resp = await client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        if error in _SLACK_TOKEN_ERRORS:
            return [
                problem(
                    "SLACK_BOT_TOKEN",
                    f"Slack refused it ({error}); copy the current Bot User OAuth Token from "
                    "OAuth & Permissions (reinstall the app if it was revoked)",
                )
            ]
        return [
            problem(
                "Slack", f"auth.test failed ({error}); see https://api.slack.com/methods/auth.test"
            )
        ]
    except Exception as exc:
        return [_unreachable("Slack", "SLACK_API_URL", settings.slack_api_url, exc)]
    who = f"@{resp.get('user')} in {resp.get('team')} ({resp.get('team_id')})"
    needed, source = required_bot_scopes(manifest)
    granted = granted_scopes(resp.headers)
    if granted is None:
        found.append(good("Slack", f"auth.test as {who}; Slack did not list the granted scopes"))
    else:
        missing = [s for s in needed if s not in granted]
        if missing:
            found.append(
                problem(
                    "Slack scopes",
                    f"missing {', '.join(missing)} (needed per {source}); add them under "
                    "OAuth & Permissions → Bot Token Scopes, reinstall the app and update "
                    "SLACK_BOT_TOKEN",
                )
            )
        else:
            found.append(good("Slack", f"auth.test as {who}; all {len(needed)} bot scopes granted"))
    if settings.slack_app_token is not None:
        found.append(await _check_app_token(client, settings))
    return found


async def _check_app_token(client: AsyncWebClient, settings: Settings) -> Finding:
    assert settings.slack_app_token is not None
    try:
        # Asks for a Socket Mode URL without connecting to it: proves the token works.
        await client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        return problem(
            "SLACK_APP_TOKEN",
            f"Slack refused it ({error}); create an app-level token with connections:write "
            "(Basic Information → App-Level Tokens) and enable Socket Mode",
        )
    except Exception as exc:
        return _unreachable("Slack", "SLACK_API_URL", settings.slack_api_url, exc)
    return good("Slack", "SLACK_APP_TOKEN opens Socket Mode connections")


# -- Gemini ----------------------------------------------------------------------------------


async def check_gemini(settings: Settings) -> list[Finding]:
    if settings.gemini_api_key is None:
        return []
    config = dataclasses.replace(
        GeminiConfig.from_settings(settings),
        attempts=2,
        timeout_s=CHECK_TIMEOUT_S,
        initial_delay_s=0.5,
    )
    client = build_client(config)
    model = settings.gemini_model
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S * 2):
            found = await client.aio.models.get(model=model)
    except genai_errors.APIError as exc:
        return [await _gemini_error(client, exc, model)]
    except Exception as exc:
        where = settings.gemini_base_url or "generativelanguage.googleapis.com"
        return [_unreachable("Gemini", "GEMINI_BASE_URL", where, exc)]
    finally:
        await client.aio.aclose()
    name = str(found.name or model).removeprefix("models/")
    return [good("Gemini", f"the key works and model {name} is available")]


async def _gemini_error(client: Any, exc: genai_errors.APIError, model: str) -> Finding:
    code = int(exc.code or 0)
    detail = str(exc.message or exc.status or "")
    if code in (401, 403) or (code == 400 and "API key" in detail):
        return problem(
            "GEMINI_API_KEY",
            f"Gemini refused it (HTTP {code}); create a new key at Google AI Studio "
            "(aistudio.google.com/apikey) and set GEMINI_API_KEY",
        )
    if code == 404:
        hint = await _some_models(client)
        return problem(
            "GEMINI_MODEL",
            f"model {model!r} was not found for this key and API version; set GEMINI_MODEL "
            f"to an available one{hint}",
        )
    return problem("Gemini", f"models.get answered HTTP {code} ({detail[:120]}); try again later")


async def _some_models(client: Any) -> str:
    try:
        names = []
        async for m in await client.aio.models.list():
            name = str(m.name or "").removeprefix("models/")
            if "gemini" in name:
                names.append(name)
            if len(names) == 5:
                break
    except Exception:
        return ""
    return f", e.g. {', '.join(names)}" if names else ""


# -- storage ---------------------------------------------------------------------------------


async def check_storage(settings: Settings) -> list[Finding]:
    if settings.redis_url:
        return [await _check_redis(settings.redis_url)]
    return [await _check_sqlite(settings.scribe_db)]


async def _check_sqlite(path: str) -> Finding:
    from bot.store.sqlite import SqliteStore
    from bot.store.sqlite_db import SqliteDatabase

    try:
        db = await SqliteDatabase.open(path)
    except Exception as exc:
        return _db_problem(path, exc)
    try:
        await SqliteStore(db).ping()
    except Exception as exc:
        return _db_problem(path, exc)
    finally:
        await db.close()
    return good("database", f"{path} is writable")


def _db_problem(path: str, exc: Exception) -> Finding:
    return problem(
        "SCRIBE_DB",
        f"cannot write {path} ({type(exc).__name__}: {exc}); point SCRIBE_DB at a file in a "
        "writable directory on persistent disk (or set REDIS_URL)",
    )


async def _check_redis(url: str) -> Finding:
    from redis import asyncio as aioredis

    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"  # never the password
    client = aioredis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=10)
    try:
        await client.set("slack-scribe:check", "1", ex=60)
    except Exception as exc:
        return problem(
            "REDIS_URL",
            f"cannot write to Redis at {where} ({type(exc).__name__}); check the host, port, "
            "password and that the server is running",
        )
    finally:
        await client.aclose()
    return good("Redis", f"{where} answers and takes writes")


def _unreachable(service: str, setting: str, where: str, exc: BaseException) -> Finding:
    reason = type(exc).__name__ + (f": {exc}" if str(exc) else "")
    host = urlsplit(where).netloc or where
    return problem(
        service,
        f"could not reach {host} ({reason[:160]}); check the network, proxies and {setting}",
    )
