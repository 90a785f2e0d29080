"""All configuration, read once from the environment or a `.env` file.

Nothing else in the code base reads `os.environ`: the composition root builds one
`Settings` and passes what each part needs down to it.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and says how to fix it."""


class Settings(BaseSettings):
    """Every setting of the operations contract (see README, "Settings")."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL

    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    gemini_api_version: str = "v1beta"
    gemini_model: str = "gemini-3.5-flash"
    # Seconds one Gemini request may take before it is abandoned (the SDK has no default).
    scribe_gemini_timeout_s: float = Field(default=600.0, gt=0)

    scribe_db: str = "slack-scribe.db"
    redis_url: str | None = None

    scribe_max_concurrency: int = Field(default=4, ge=1, le=256)
    scribe_max_file_mb: int = Field(default=1024, ge=1)
    scribe_max_audio_minutes: int = Field(default=240, ge=1)
    scribe_inline_limit_mb: float = Field(default=20, ge=0)
    scribe_auto_transcribe: bool = True
    # Transient failures (Gemini 429/5xx, timeouts, Slack outages) are retried with due times
    # in the journal for this long before the job gives up with a Retry button.
    scribe_retry_window_s: float = Field(default=900.0, ge=0)
    # Slack user ids (comma-separated) who may change channel settings and delete any
    # transcript, besides workspace admins and owners.
    scribe_admins: str = ""
    scribe_delete_with_source: bool = True
    # Embedded mode: `serve` and `socket` run the jobs in a child process of their own, so
    # that job work (requests built and parsed, replies rendered) never delays Slack's acks.
    scribe_job_process: bool = True
    # Processes that probe, transcode and split media (bot/media/pool.py): one per core.
    scribe_media_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)

    # Operational extras (not in the fixed contract, documented in the README).
    scribe_log_format: Literal["text", "json"] = "text"
    scribe_log_level: str = "INFO"
    scribe_retention_days: int = Field(default=30, ge=1)
    scribe_job_budget_s: float = Field(default=1800.0, gt=0)
    # Gemini retries (the SDK's backoff): attempts per request and the first delay.
    scribe_gemini_attempts: int = Field(default=5, ge=1, le=10)
    scribe_gemini_initial_delay_s: float = Field(default=1.0, ge=0)
    # The first automatic retry's delay; each later one doubles it (jittered, at most 5 min).
    scribe_retry_first_delay_s: float = Field(default=15.0, ge=0)
    # At most one edit of a job's status message per this many seconds (chat.update is Tier 3).
    scribe_status_interval_s: float = Field(default=5.0, ge=0)
    scribe_shutdown_grace_s: float = Field(default=25.0, ge=0)
    # Redis mode: a worker holds a job under a lease it renews while alive; a worker that
    # dies (kill -9, lost machine) lets its job go to another worker after this long.
    scribe_worker_lease_s: float = Field(default=30.0, ge=1)
    scribe_answer_other_bots: bool = False
    # Where downloads and prepared audio live while a job runs (default: the system's temp dir).
    scribe_tmp_dir: str | None = None
    # USD per million tokens, used only for the estimated-cost metric.
    scribe_price_input_per_mtok: float = Field(default=1.0, ge=0)
    scribe_price_output_per_mtok: float = Field(default=4.0, ge=0)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must start with xoxb- (the Bot User OAuth Token)")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must start with xapp- (an app-level token with connections:write)")
        return v

    @field_validator("scribe_log_level")
    @classmethod
    def _log_level_name(cls, v: str) -> str:
        if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return v.upper()

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return v if v.endswith("/") else v + "/"

    @property
    def inline_limit_bytes(self) -> int:
        return int(self.scribe_inline_limit_mb * 1024 * 1024)

    @property
    def admin_ids(self) -> frozenset[str]:
        """SCRIBE_ADMINS as a set of user ids (spaces and empty items ignored)."""
        return frozenset(part.strip() for part in self.scribe_admins.split(",") if part.strip())

    @property
    def max_file_bytes(self) -> int:
        return self.scribe_max_file_mb * 1024 * 1024

    def require(self, *names: str) -> None:
        """Raise SettingsError naming the first of `names` that is unset."""
        for name in names:
            if getattr(self, name.lower()) in (None, ""):
                raise SettingsError(f"{name.upper()} is not set: {_HOW_TO_SET[name.lower()]}")


_HOW_TO_SET = {
    "slack_bot_token": "copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page",
    "slack_signing_secret": "copy the Signing Secret from your app's Basic Information page",
    "slack_app_token": "create an app-level token with connections:write (Basic Information → App-Level Tokens)",
    "gemini_api_key": "create a key at Google AI Studio and set GEMINI_API_KEY",
    "redis_url": "set REDIS_URL, e.g. redis://localhost:6379/0",
}


def load_settings() -> Settings:
    """Build Settings, turning validation errors into readable lines without values."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            problems.append(f"{name}: {err['msg']}")
        # One line per problem: `check` and the other commands print them as they are.
        raise SettingsError("\n".join(f"invalid setting {p}" for p in problems)) from None
