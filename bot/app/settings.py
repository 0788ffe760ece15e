"""Process settings from the environment and `.env` (the contract in DESIGN.md section 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Language = Literal["en", "nl"]


class Settings(BaseSettings):
    """Everything the process reads from its environment; `.env` fills in what is unset."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite+aiosqlite:///./webcare.db"
    webcare_config: Path = Path("./webcare.yml")
    webhook_secret: str | None = None
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)
    webcare_timezone: str = "Europe/Amsterdam"
    webcare_language: Language = "en"

    # Tuning knobs beyond the contract; the defaults follow Slack's documented limits.
    webcare_channel_interval: float = Field(
        default=1.0, ge=0, description="seconds between posts to one channel (Slack: ~1/s)"
    )
    # Slack's per-workspace budget per method tier, calls per minute, shared by all replicas,
    # e.g. {"tier3": 100} for a workspace Slack granted more (bot/delivery/slack_budget.py).
    webcare_slack_per_minute: dict[str, float] = Field(default_factory=dict)

    @field_validator("webcare_slack_per_minute")
    @classmethod
    def _known_tiers(cls, budget: dict[str, float]) -> dict[str, float]:
        for tier, calls in budget.items():
            if tier not in ("tier1", "tier2", "tier3", "tier4"):
                raise ValueError(f"unknown Slack tier {tier!r}; use tier1 … tier4")
            if not calls > 0:
                raise ValueError(f"{tier}: calls per minute must be more than 0")
        return budget

    webcare_digest_after: float = Field(
        default=5.0,
        ge=0,
        description="when a new case would wait longer than this (s) for its own card, waiting"
        " new cases are posted together in storm digests (0: never)",
    )
    webcare_log_level: str = "INFO"
    # Answer Slack only once a listener has finished (serverless hosts, and deterministic tests).
    # Normally Slack gets its answer as soon as the listener calls ack().
    webcare_ack_after_work: bool = False
    # Answer each person in their own Slack language (en or nl) where only they see it (modals,
    # ephemeral messages, /webcare, App Home). Off by default: many people keep Slack's en-US.
    webcare_user_language: bool = False
    # With it, `GET /healthz` sent with `Authorization: Bearer <token>` shows the detail
    # (workspace, bot, each source's errors and lag); without it anyone sees only up or down.
    webcare_health_token: str | None = None

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, url: str) -> str:
        # slack_sdk joins base_url and method name by plain concatenation.
        return url if url.endswith("/") else url + "/"

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    def missing_for_serve(self) -> list[str]:
        """Names of the settings `webcare serve` needs but does not have."""
        missing = []
        if not self.slack_bot_token:
            missing.append("SLACK_BOT_TOKEN")
        if not self.socket_mode and not self.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)")
        return missing


def load_settings(env_file: Path | str | None = ".env") -> Settings:
    """Read settings; pass `env_file=None` to ignore any `.env` (tests)."""
    return Settings(_env_file=env_file)  # type: ignore[call-arg]
