"""Business hours in the config file: opening times per weekday, time zone and holidays."""

from __future__ import annotations

from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from bot.core.config.base import (
    HOURS,
    WEEKDAYS,
    Strict,
)


class OpeningHours(Strict):
    """One weekday's opening, parsed from "09:00-18:00"."""

    opens: time
    closes: time


class BusinessHours(Strict):
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

    @model_validator(mode="after")
    def _opens_some_day(self) -> BusinessHours:
        # Said by `webcare check`, not found by `webcare serve` when it builds the calendar.
        if not any(self.hours.values()) and not self.clock_runs_outside_hours:
            raise ValueError(
                "no opening hours on any weekday: give some (mon: 09:00-17:00), or set"
                " clock_runs_outside_hours: true for a team that counts every hour"
            )
        return self


def _parse_span(span: str) -> OpeningHours:
    match = HOURS.match(span.strip())
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
