"""Routing rules in the config file: conditions on a mention, and the department it goes to."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from bot.core.config.base import (
    Priority,
    Strict,
)
from bot.core.platforms import SOURCES


class RuleMatch(Strict):
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


class Rule(Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    match: RuleMatch
    department: str
    priority: Priority | None = None
    tags: list[str] = Field(default_factory=list)
    # First-response target (business minutes, the department's calendar) of the cases this
    # rule routes: instead of the department's, and also for proactive ones (news, hashtag
    # hits), which otherwise have no deadline.
    sla_minutes: Annotated[int, Field(gt=0, le=60 * 24 * 14)] | None = None
