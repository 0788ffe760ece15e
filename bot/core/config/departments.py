"""Departments in the config file: their channel, people, SLA, hours and reply templates."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from bot.core.config.base import (
    CHANNEL,
    USER,
    PathError,
    Strict,
    check_channel_id,
)
from bot.core.config.hours import BusinessHours

# What a reply template may fill in.
PLACEHOLDERS = ("customer_name", "customer_handle", "agent_first_name", "case_id")


_PLACEHOLDER = re.compile(r"{([^{}]*)}")


class Template(Strict):
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


class Department(Strict):
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
            raise PathError(
                ("holding_template",),
                f"no template {self.holding_template!r} in this department's templates",
            )
        return self

    @field_validator("escalate_to")
    @classmethod
    def _escalation_target(cls, target: str | None) -> str | None:
        if target is not None and not (USER.match(target) or CHANNEL.match(target)):
            raise ValueError(f"{target!r} is neither a Slack user ID (U…) nor a channel ID (C…)")
        return target

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, channel: str) -> str:
        return check_channel_id(channel)

    @field_validator("contacts")
    @classmethod
    def _user_ids(cls, contacts: list[str]) -> list[str]:
        for user in contacts:
            if not USER.match(user):
                raise ValueError(f"{user!r} is not a Slack user ID (U0123ABCD, from the profile)")
        return contacts
