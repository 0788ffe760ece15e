"""What every part of the config file shares: strict models, Slack ID checks, the error type."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
)

Priority = Literal["low", "normal", "high", "urgent"]


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


CHANNEL = re.compile(r"^[CG][A-Z0-9]{6,}$")


USER = re.compile(r"^[UW][A-Z0-9]{6,}$")


HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class ConfigError(Exception):
    """The config file cannot be used; `problems` lists each one as `file: path: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.partial: Any = None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathError(ValueError):
    """A cross-reference error that knows where in the file it belongs."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def check_channel_id(channel: str) -> str:
    """`channel` if it is a Slack channel ID, else a ValueError saying where to find one."""
    if not CHANNEL.match(channel):
        raise ValueError(
            f"{channel!r} is not a Slack channel ID: open the channel's details in Slack and "
            "copy the ID at the bottom (C0123ABCD)"
        )
    return channel
