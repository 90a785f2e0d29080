"""`slack-scribe check` against the emulators: all good exits 0; each problem is one line with its fix."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

import pytest

from bot.ops.check import REQUIRED_BOT_SCOPES, check_settings, required_bot_scopes, run_check
from tests.conftest import make_settings
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator


async def _check(settings) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    status = await run_check(settings, out)
    return status, out.getvalue().splitlines()


def _problems(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("problem")]


def _no_secrets(lines: list[str], *secrets: str) -> None:
    text = "\n".join(lines)
    for secret in secrets:
        assert secret not in text


async def test_all_good_exits_zero(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    status, lines = await _check(make_settings(slack, gemini, tmp_path))
    assert status == 0, lines
    assert _problems(lines) == []
    assert lines[-1] == "All good."
    joined = "\n".join(lines)
    assert "@scribe" in joined and "scopes granted" in joined
    assert "gemini-3.5-flash is available" in joined
    assert "SLACK_APP_TOKEN opens Socket Mode" in joined
    assert "is writable" in joined
    assert (tmp_path / "scribe.db").exists()
    _no_secrets(lines, slack.bot_token, slack.app_token, slack.signing_secret, gemini.api_key)


async def test_bad_bot_token(slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path) -> None:
    settings = make_settings(slack, gemini, tmp_path, slack_bot_token="xoxb-not-the-right-one")
    status, lines = await _check(settings)
    assert status == 1
    [line] = _problems(lines)
    assert line.startswith("problem  SLACK_BOT_TOKEN: Slack refused it (invalid_auth)")
    assert "OAuth & Permissions" in line
    _no_secrets(lines, "xoxb-not-the-right-one")


async def test_missing_scope(gemini: GeminiEmulator, tmp_path: Path) -> None:
    granted = [s for s in REQUIRED_BOT_SCOPES if s not in ("files:write", "reactions:write")]
    async with SlackEmulator(scopes=granted) as slack:
        status, lines = await _check(make_settings(slack, gemini, tmp_path))
    assert status == 1
    [line] = _problems(lines)
    assert line.startswith("problem  Slack scopes: missing files:write, reactions:write")
    assert "reinstall the app" in line


async def test_wrong_gemini_key(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(slack, gemini, tmp_path, gemini_api_key="AIza-wrong-key-123")
    status, lines = await _check(settings)
    assert status == 1
    [line] = _problems(lines)
    assert line.startswith("problem  GEMINI_API_KEY: Gemini refused it (HTTP 400)")
    assert "AI Studio" in line
    _no_secrets(lines, "AIza-wrong-key-123")


async def test_missing_model_names_available_ones(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(slack, gemini, tmp_path, gemini_model="gemini-0.1-nonexistent")
    status, lines = await _check(settings)
    assert status == 1
    [line] = _problems(lines)
    assert line.startswith("problem  GEMINI_MODEL: model 'gemini-0.1-nonexistent' was not found")
    assert "e.g. gemini-3.5-flash" in line


async def test_unwritable_database_and_unreachable_gemini(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    not_a_file = tmp_path / "db-is-a-directory"
    not_a_file.mkdir()
    settings = make_settings(
        slack,
        gemini,
        tmp_path,
        scribe_db=str(not_a_file),
        gemini_base_url="http://127.0.0.1:9",  # discard port: nothing listens
        scribe_gemini_attempts=1,
    )
    status, lines = await _check(settings)
    assert status == 1
    problems = _problems(lines)
    assert len(problems) == 2, lines
    assert problems[0].startswith("problem  Gemini: could not reach 127.0.0.1:9")
    assert problems[1].startswith(f"problem  SCRIBE_DB: cannot write {not_a_file}")


async def test_unreachable_redis(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    settings = make_settings(
        slack, gemini, tmp_path, redis_url="redis://:hunter2secret@127.0.0.1:9/0"
    )
    status, lines = await _check(settings)
    assert status == 1
    [line] = _problems(lines)
    assert line.startswith("problem  REDIS_URL: cannot write to Redis at 127.0.0.1:9")
    _no_secrets(lines, "hunter2secret")


@pytest.mark.parametrize(
    ("overrides", "topic"),
    [
        ({"slack_bot_token": None}, "SLACK_BOT_TOKEN"),
        ({"gemini_api_key": None}, "GEMINI_API_KEY"),
        ({"slack_signing_secret": None, "slack_app_token": None}, "SLACK_SIGNING_SECRET"),
        ({"slack_api_url": "http://slack.example.com/api/"}, "SLACK_API_URL"),
        ({"redis_url": "http://localhost:6379"}, "REDIS_URL"),
    ],
)
def test_settings_problems(tmp_path: Path, overrides: dict, topic: str) -> None:
    base = {
        "slack_bot_token": "xoxb-1",
        "slack_signing_secret": "s" * 8,
        "slack_app_token": "xapp-1",
        "slack_api_url": "https://slack.com/api/",
        "gemini_api_key": "k" * 8,
    }
    from bot.settings import Settings

    settings = Settings(_env_file=None, **(base | overrides))  # type: ignore[call-arg]
    findings = check_settings(settings)
    assert [(f.ok, f.topic) for f in findings] == [(False, topic)]


def test_scopes_come_from_manifest_when_present(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(
        "oauth_config:\n  scopes:\n    bot:\n      - chat:write\n      - files:read\n"
    )
    assert required_bot_scopes(manifest) == (("chat:write", "files:read"), "manifest.yml")
    assert required_bot_scopes(tmp_path / "absent.yml")[0] == REQUIRED_BOT_SCOPES


async def test_cli_check_exit_status_and_invalid_settings(
    slack: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_API_URL": slack.api_url,
        "GEMINI_API_KEY": gemini.api_key,
        "GEMINI_BASE_URL": gemini.base_url,
        "SCRIBE_DB": str(tmp_path / "cli.db"),
    }

    async def run(extra: dict[str, str]) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "check",
            env=env | extra, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    (status, out, err), (bad_status, _, bad_err) = await asyncio.gather(
        run({}),
        run({"SLACK_BOT_TOKEN": "not-a-token", "SCRIBE_MAX_CONCURRENCY": "lots"}),
    )
    assert status == 0, out + err
    assert out.splitlines()[-1] == "All good."
    assert bad_status == 2
    lines = bad_err.splitlines()
    assert len(lines) == 2, bad_err
    assert lines[0].startswith("slack-scribe: invalid setting SLACK_BOT_TOKEN: ")
    assert "xoxb-" in lines[0]
    assert lines[1].startswith("slack-scribe: invalid setting SCRIBE_MAX_CONCURRENCY: ")
    assert "not-a-token" not in bad_err


def test_built_in_scopes_match_the_repository_manifest() -> None:
    scopes, source = required_bot_scopes()
    # The tests run from the checkout, so the manifest must be found (not the fallback).
    assert source == "manifest.yml"
    assert set(scopes) == set(REQUIRED_BOT_SCOPES)
