"""The team's YAML config: departments, business hours and routing rules, validated at start-up.

Every error names the file, the path inside it (`rules[3].match.keywords`) and what is wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    HttpUrl,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.language_detection import known_language
from bot.core.locations import format_loc
from bot.core.platforms import SOURCES

Priority = Literal["low", "normal", "high", "urgent"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{6,}$")
_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class ConfigError(Exception):
    """The config file cannot be used; `problems` lists each one as `file: path: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.partial: Any = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpeningHours(_Strict):
    """One weekday's opening, parsed from "09:00-18:00"."""

    opens: time
    closes: time


class BusinessHours(_Strict):
    timezone: str = "Europe/Amsterdam"
    # Weekday → "HH:MM-HH:MM"; a weekday left out (or null) is closed.
    hours: dict[str, OpeningHours | None] = Field(
        default_factory=lambda: {
            day: OpeningHours(opens=time(9), closes=time(18)) for day in WEEKDAYS[:5]
        }
    )
    holidays: str | None = "NL"  # country code for the `holidays` package; null: none
    clock_runs_outside_hours: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (use an IANA name such as Europe/Amsterdam)"
            ) from None
        return name

    @field_validator("hours", mode="before")
    @classmethod
    def _parse_hours(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        parsed: dict[str, Any] = {}
        for day, span in raw.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            parsed[day] = _parse_span(span) if isinstance(span, str) else span
        return parsed

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, country: str | None) -> str | None:
        if country is not None and country not in holidays.list_supported_countries():
            raise ValueError(f"no public-holiday calendar for country {country!r}")
        return country


def _parse_span(span: str) -> OpeningHours:
    match = _HOURS.match(span.strip())
    if not match:
        raise ValueError(f"opening hours {span!r} are not of the form 09:00-18:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        opens, closes = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"opening hours {span!r} hold an impossible time") from None
    if closes <= opens:
        raise ValueError(f"opening hours {span!r} close before they open")
    return OpeningHours(opens=opens, closes=closes)


# What a reply template may fill in.
PLACEHOLDERS = ("customer_name", "customer_handle", "agent_first_name", "case_id")
_PLACEHOLDER = re.compile(r"{([^{}]*)}")


class Template(_Strict):
    """A reply a department starts from; {customer_name}-style placeholders are filled in."""

    key: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    title: Annotated[str, Field(min_length=1, max_length=75)]
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    # The language the template is written in: offered first to customers who write in it.
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")] | None = (
        None
    )

    @field_validator("language")
    @classmethod
    def _primary_language(cls, code: str | None) -> str | None:
        return code.split("-")[0].split("_")[0].lower() if code else None

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, text: str) -> str:
        for name in _PLACEHOLDER.findall(text):
            if name not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{name}}}; use {', '.join(PLACEHOLDERS)}")
        return text


class ReplyWebhook(_Strict):
    """Where approved replies to one source are sent, signed like the ingest webhook."""

    url: HttpUrl
    secret: Annotated[str, Field(min_length=16)]


class SpikeAlerts(_Strict):
    """Tell a channel when mentions surge: a crisis noticed in minutes, not hours."""

    channel: str
    factor: Annotated[float, Field(gt=1)] = 3.0  # last hour vs. the same hour in past weeks
    min_mentions: Annotated[int, Field(ge=1)] = 20  # below this an hour is never a spike
    cooldown_minutes: Annotated[int, Field(ge=1)] = 180  # one alert per scope per this long
    history_weeks: Annotated[int, Field(ge=1, le=12)] = 4

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, channel: str) -> str:
        if not _CHANNEL.match(channel):
            raise ValueError(f"{channel!r} is not a Slack channel ID (C0123ABCD)")
        return channel


class _PolledSource(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    interval_seconds: Annotated[int, Field(ge=30, le=86_400)] = 300
    # Tell the source-alert channel when this source has had no new item for this long;
    # failures are alerted anyway. Unset: learnt from the source's own pace once it has
    # brought enough items (see README); 0: never.
    quiet_alert_minutes: Annotated[int, Field(ge=0)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0  # per HTTP request


class FeedSource(_PolledSource):
    """An RSS or Atom feed (Google Alerts, forum topics, review sites, Reddit searches, …)."""

    type: Literal["rss"] = "rss"
    url: HttpUrl
    source: str = "rss"  # what its mentions count as (rss, forum, review, reddit, …)
    addressed: bool = False
    private: bool = False
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")] | None = (
        None  # a language tag such as nl or en-GB
    )

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
        return source


class MastodonSource(_PolledSource):
    """The brand's Mastodon account: its mentions (incl. direct messages) and searches."""

    type: Literal["mastodon"]
    interval_seconds: Annotated[int, Field(ge=30, le=86_400)] = 60
    instance: HttpUrl  # https://mastodon.social
    access_token: Annotated[str, Field(min_length=10)]  # scopes read:notifications read:search
    notifications: bool = True  # mentions of the account (direct visibility → private)
    # Words or phrases (full-text search) and #hashtags (the tag's public timeline).
    search: list[Annotated[str, Field(min_length=2, max_length=100)]] = Field(default_factory=list)
    replies: bool = True  # "Send" on a draft posts the reply (scope write:statuses)


class BlueskySource(_PolledSource):
    """The brand's Bluesky account: notifications (mentions, replies, quotes) and searches."""

    type: Literal["bluesky"]
    interval_seconds: Annotated[int, Field(ge=30, le=86_400)] = 60
    service: HttpUrl = HttpUrl("https://bsky.social")  # the account's PDS / entryway
    handle: Annotated[str, Field(min_length=3, max_length=253)]  # acmebank.bsky.social
    app_password: Annotated[str, Field(min_length=4)]  # Settings → Privacy → App passwords
    notifications: bool = True
    search: list[Annotated[str, Field(min_length=2, max_length=100)]] = Field(default_factory=list)
    replies: bool = True


def _source_type(value: Any) -> str:
    """Which kind of source an entry is; `type` may be left out for a feed."""
    kind = value.get("type", "rss") if isinstance(value, dict) else getattr(value, "type", "rss")
    return kind if kind in ("rss", "mastodon", "bluesky") else "unknown"


AnySource = Annotated[
    Annotated[FeedSource, Tag("rss")]
    | Annotated[MastodonSource, Tag("mastodon")]
    | Annotated[BlueskySource, Tag("bluesky")],
    Discriminator(
        _source_type,
        custom_error_type="source_type",
        custom_error_message="type must be rss, mastodon or bluesky",
    ),
]


class SourceAlerts(_Strict):
    """Where to say that a source has been failing (or quiet) for a while, and recovered."""

    channel: str
    after_minutes: Annotated[int, Field(ge=1)] = 30

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, channel: str) -> str:
        return Department._channel_id(channel)


class Department(_Strict):
    key: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    name: Annotated[str, Field(min_length=1, max_length=80)]
    channel: str
    contacts: list[str] = Field(default_factory=list)
    sla_minutes: Annotated[int, Field(gt=0, le=60 * 24 * 14)] = 60
    business_hours: BusinessHours | None = None
    templates: list[Template] = Field(default_factory=list)
    tone: Annotated[str, Field(max_length=300)] | None = None  # shown as a hint when drafting
    requires_approval: bool = False  # a second person approves a draft before it goes out
    escalate_to: str | None = None  # user (U…) or channel (C…) told when a case breaches
    holding_template: str | None = None  # template key suggested for drafts in crisis mode

    @model_validator(mode="after")
    def _holding_template_exists(self) -> Department:
        keys = [tpl.key for tpl in self.templates]
        if self.holding_template is not None and self.holding_template not in keys:
            raise _PathError(
                ("holding_template",),
                f"no template {self.holding_template!r} in this department's templates",
            )
        return self

    @field_validator("escalate_to")
    @classmethod
    def _escalation_target(cls, target: str | None) -> str | None:
        if target is not None and not (_USER.match(target) or _CHANNEL.match(target)):
            raise ValueError(f"{target!r} is neither a Slack user ID (U…) nor a channel ID (C…)")
        return target

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, channel: str) -> str:
        if not _CHANNEL.match(channel):
            raise ValueError(
                f"{channel!r} is not a Slack channel ID: open the channel's details in Slack and "
                "copy the ID at the bottom (C0123ABCD)"
            )
        return channel

    @field_validator("contacts")
    @classmethod
    def _user_ids(cls, contacts: list[str]) -> list[str]:
        for user in contacts:
            if not _USER.match(user):
                raise ValueError(f"{user!r} is not a Slack user ID (U0123ABCD, from the profile)")
        return contacts


class RuleMatch(_Strict):
    """All given conditions must hold; keywords match if any one of them occurs."""

    keywords: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    regex: str | None = None
    sources: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    addressed: bool | None = None
    private: bool | None = None
    min_followers: Annotated[int, Field(ge=0)] | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regular expression does not compile: {exc}") from None
        return pattern

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, sources: list[str]) -> list[str]:
        unknown = [s for s in sources if s not in SOURCES]
        if unknown:
            raise ValueError(f"unknown source {unknown[0]!r}; use one of {', '.join(SOURCES)}")
        return sources

    @model_validator(mode="after")
    def _not_empty(self) -> RuleMatch:
        if not any(getattr(self, name) not in (None, []) for name in type(self).model_fields):
            raise ValueError("a rule needs at least one condition (it would match everything)")
        return self


class Rule(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    match: RuleMatch
    department: str
    priority: Priority | None = None
    tags: list[str] = Field(default_factory=list)
    # First-response target (business minutes, the department's calendar) of the cases this
    # rule routes: instead of the department's, and also for proactive ones (news, hashtag
    # hits), which otherwise have no deadline.
    sla_minutes: Annotated[int, Field(gt=0, le=60 * 24 * 14)] | None = None


class WebcareConfig(_Strict):
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
                raise _PathError(
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


class _PathError(ValueError):
    """A cross-reference error that knows where in the file it belongs."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


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
            if isinstance(cause, _PathError):
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
