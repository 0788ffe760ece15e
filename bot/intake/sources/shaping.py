"""Turning what a platform says into fields the mention model accepts. Platforms send odd
values (a missing name, a count as a string, a language tag of their own); one odd field
must never cost the whole mention, so each helper gives a clean value or None."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.core.links import is_web_link
from bot.intake.mentions import MAX_TEXT, MAX_URL

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
# Lone surrogates: JSON can carry them ("\\ud800"), but they are not text and cannot be stored.
_SURROGATES = re.compile("[\ud800-\udfff]")


def line(value: object, limit: int = 200) -> str | None:
    """A one-line string (controls and runs of white space folded), or None when empty."""
    if not isinstance(value, str):
        return None
    folded = " ".join(_CONTROLS.sub(" ", _SURROGATES.sub("", value)).split())[:limit].strip()
    return folded or None


def text(value: str) -> str:
    """A post's text, within what a mention holds."""
    return _SURROGATES.sub("\ufffd", value).strip()[:MAX_TEXT]


def without_text(attachments: int, descriptions: Sequence[object] = ()) -> str:
    """What a post with attachments and no text says on its card: how many, and the
    descriptions people wrote for those who cannot see them ("a broken card")."""
    said = [shown for d in descriptions if (shown := line(d, 300))]
    described = f": {'; '.join(said)}" if said else ""
    return f"[{attachments} attachment(s), no text{described}]"


def count(value: object) -> int | None:
    """A follower count: a whole number, not negative (booleans are not counts)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def web_url(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_URL or any(c.isspace() for c in value):
        return None
    if not value.startswith(("https://", "http://")) or len(value) <= 10:
        return None
    return value if is_web_link(value) else None  # e.g. too long once percent-encoded


def language(value: object) -> str | None:
    return value if isinstance(value, str) and _LANGUAGE.match(value) else None


def moment(value: object) -> datetime | None:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def author(handle: str, *, name: object, followers: object, url: object) -> dict[str, Any]:
    shown: dict[str, Any] = {"handle": handle, "name": line(name) or handle}
    if (counted := count(followers)) is not None:
        shown["followers"] = counted
    if (link := web_url(url)) is not None:
        shown["url"] = link
    return shown
