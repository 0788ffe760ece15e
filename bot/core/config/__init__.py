"""The team's YAML config (WebcareConfig, loaded and validated at start-up); its parts, one module
each: departments, business hours, routing rules, polled sources.

Every error names the file, the path inside it (`rules[3].match.keywords`) and what is wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator, model_validator

from bot.core.config.base import CHANNEL, ConfigError, PathError, Strict
from bot.core.config.departments import Department
from bot.core.config.hours import BusinessHours
from bot.core.config.rules import Rule
from bot.core.config.sources import (
    AnySource,
    BlueskySource,
    MastodonSource,
    ReplyWebhook,
    SourceAlerts,
)
from bot.core.language_detection import known_language
from bot.core.locations import format_loc
from bot.core.platforms import SOURCES


class SpikeAlerts(Strict):
    """Tell a channel when mentions surge: a crisis noticed in minutes, not hours."""

    channel: str
    factor: Annotated[float, Field(gt=1)] = 3.0  # last hour vs. the same hour in past weeks
    min_mentions: Annotated[int, Field(ge=1)] = 20  # below this an hour is never a spike
    cooldown_minutes: Annotated[int, Field(ge=1)] = 180  # one alert per scope per this long
    history_weeks: Annotated[int, Field(ge=1, le=12)] = 4

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, channel: str) -> str:
        if not CHANNEL.match(channel):
            raise ValueError(f"{channel!r} is not a Slack channel ID (C0123ABCD)")
        return channel


class WebcareConfig(Strict):
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    departments: Annotated[list[Department], Field(min_length=1)]
    default_department: str
    rules: list[Rule] = Field(default_factory=list)
    reopen_window_days: Annotated[int, Field(ge=0, le=365)] = 7
    # A person a case is forwarded to answers within this many business minutes; they are
    # reminded at `forward_reminder_at` of that time, and the owner is told when it passes.
    # Unclaimed cases get a warning (thread line, department contacts pinged) at this share of
    # their response time; a breach is escalated to the department's (or this) `escalate_to`.
    sla_warning_at: Annotated[float, Field(gt=0, lt=1)] = 0.8
    escalate_to: str | None = None
    spike_alerts: SpikeAlerts | None = None
    sources: list[AnySource] = Field(default_factory=list)
    source_alerts: SourceAlerts | None = None
    # On a source's very first poll only items this recent are taken (no flood of old posts).
    # A source's first poll takes in what was posted this long before: a weekend, so a source
    # added on Monday still brings Friday's mentions.
    backfill_hours: Annotated[int, Field(ge=0, le=24 * 30)] = 72
    forward_deadline_minutes: Annotated[int, Field(gt=0, le=60 * 24 * 14)] = 240
    forward_reminder_at: Annotated[float, Field(gt=0, lt=1)] = 0.75
    # The company's own formats that must not appear in a public reply, e.g. order numbers.
    personal_data_patterns: dict[str, str] = Field(default_factory=dict)
    reply_webhooks: dict[str, ReplyWebhook] = Field(default_factory=dict)
    # The languages customers write to the team in (ISO 639-1): a mention whose source gives
    # no language is detected among these. Empty: English, Dutch and every language the rules
    # and sources name.
    languages: list[str] = Field(default_factory=list)

    @field_validator("languages")
    @classmethod
    def _detectable(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not known_language(code):
                raise ValueError(
                    f"unknown language {code!r}; use two-letter codes such as nl, en, de, fr"
                )
        return [code.lower() for code in codes]

    def team_languages(self) -> set[str]:
        """What `languages:` says, or English, Dutch and what the rules and sources name."""
        if self.languages:
            return set(self.languages)
        named = {"en", "nl"}
        for rule in self.rules:
            named.update(code.split("-")[0].split("_")[0].lower() for code in rule.match.languages)
        for source in self.sources:
            if code := getattr(source, "language", None):
                named.add(code.split("-")[0].split("_")[0].lower())
        return {code for code in named if known_language(code)}

    @field_validator("escalate_to")
    @classmethod
    def _escalation(cls, target: str | None) -> str | None:
        return Department._escalation_target(target)

    @field_validator("personal_data_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        for name, pattern in patterns.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {name!r} does not compile: {exc}") from None
        return patterns

    @field_validator("reply_webhooks")
    @classmethod
    def _known_reply_sources(cls, hooks: dict[str, ReplyWebhook]) -> dict[str, ReplyWebhook]:
        unknown = [s for s in hooks if s not in SOURCES]
        if unknown:
            raise ValueError(f"unknown source {unknown[0]!r}; use one of {', '.join(SOURCES)}")
        return hooks

    @model_validator(mode="after")
    def _references(self) -> WebcareConfig:
        keys = [d.key for d in self.departments]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"department key {duplicates[0]!r} is used twice")
        if self.default_department not in keys:
            raise ValueError(
                f"default_department {self.default_department!r} is not one of the departments "
                f"({', '.join(keys)})"
            )
        names = [source.name for source in self.sources]
        if len(names) != len(set(names)):
            raise ValueError("two sources have the same name")
        for index, rule in enumerate(self.rules):
            if rule.department not in keys:
                raise PathError(
                    ("rules", index, "department"),
                    f"unknown department {rule.department!r}; known: {', '.join(keys)}",
                )
        return self

    def department(self, key: str) -> Department:
        """The department with `key`; the default one for a key no longer in the config
        (a department removed while it still has cases)."""
        for department in self.departments:
            if department.key == key:
                return department
        return next(d for d in self.departments if d.key == self.default_department)

    def source(self, name: str) -> AnySource | None:
        return next((source for source in self.sources if source.name == name), None)

    def replies_through(self, platform: str) -> bool:
        """Whether a reply to a case from `platform` can be published by the bot."""
        if platform in self.reply_webhooks:
            return True
        return any(
            isinstance(source, MastodonSource | BlueskySource)
            and source.type == platform
            and source.replies
            for source in self.sources
        )

    def hours_for(self, department: Department) -> BusinessHours:
        return department.business_hours or self.business_hours


def parse_config(data: Any, *, source: str) -> WebcareConfig:
    """Validate already-loaded YAML data; `source` names the file in error messages."""
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: the file must hold a mapping (departments:, rules:, …)"])
    try:
        return WebcareConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = _readable_loc(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, PathError):
                loc = (*loc, *cause.loc)
            problems.append(f"{source}: {format_loc(loc) or '(top level)'}: {message}")
        raise ConfigError(problems) from None


def _readable_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The path as the file spells it: without pydantic's validator and union-tag steps."""
    kept: list[str | int] = []
    for index, part in enumerate(loc):
        if str(part).startswith("function-"):
            continue
        if index >= 2 and loc[index - 2] == "sources" and part in ("rss", "mastodon", "bluesky"):
            continue
        kept.append(part)
    return tuple(kept)


def load_config(path: Path) -> WebcareConfig:
    """Read and validate the config file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: not found (copy webcare.example.yml to {path} and edit it)"]
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ConfigError([f"{path}: {where}: not valid YAML ({exc})"]) from None
    try:
        data = expand_env(data, source=str(path))
    except ConfigError as unset:  # report these together with everything else that is wrong
        try:
            parse_config(unset.partial, source=str(path))
        except ConfigError as wrong:
            raise ConfigError([*unset.problems, *wrong.problems]) from None
        raise
    return parse_config(data, source=str(path))


_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def expand_env(data: Any, *, source: str, env: Mapping[str, str] | None = None) -> Any:
    """Replace each value written as `${NAME}` by that environment variable (or `.env` entry),
    so secrets such as access tokens need not sit in the config file."""
    if env is None:
        env = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}
    problems: list[str] = []

    def walk(node: Any, loc: tuple[str | int, ...]) -> Any:
        if isinstance(node, dict):
            return {key: walk(value, (*loc, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value, (*loc, index)) for index, value in enumerate(node)]
        if isinstance(node, str) and (match := _ENV_REF.match(node)):
            if match[1] not in env:
                problems.append(
                    f"{source}: {format_loc(loc)}: environment variable {match[1]} is not set "
                    "(set it, or add it to .env)"
                )
                return node
            return env[match[1]]
        return node

    expanded = walk(data, ())
    if problems:
        error = ConfigError(problems)
        error.partial = expanded  # what could be filled in, for checking the rest
        raise error
    return expanded
