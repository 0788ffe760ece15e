"""Mentions as the world sends them: what can be a case is made one, and the sender is told how.

Only a mention that cannot be a case is refused: one with no source or no id of its own.
Everything else that senders really send (an e-mail gateway's `mailto:` author link, ids as
JSON numbers, an image-only post without text, RFC 2822 dates, "1.2K" followers, …) is
normalised here, before validation, and each change is listed in the webhook's 202 answer
(`normalised`) so the sender can see what was made of it.

Well-formed mentions never come here: the webhook validates them in one step first.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bot.core.links import is_web_link, stored_link
from bot.core.platforms import SOURCES
from bot.intake.mentions import (
    MAX_FOLLOWERS,
    MAX_HANDLE,
    MAX_ID,
    MAX_NAME,
    MAX_TEXT,
    MAX_URL,
    fitted_id,
    plausible,
)


@dataclass(frozen=True, slots=True)
class Note:
    """One change made to item `index` of the request (0 for a single object)."""

    index: int
    field: str
    change: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "change": self.change}


def repair(payload: Any, *, now: datetime) -> tuple[Any, list[Note]]:
    """The payload with each mention object normalised, and what was changed. `now` stands
    in for a date that cannot be read."""
    notes: list[Note] = []
    if isinstance(payload, list):
        return [_repair_one(item, i, notes, now) for i, item in enumerate(payload)], notes
    return _repair_one(payload, 0, notes, now), notes


def _repair_one(item: Any, index: int, notes: list[Note], now: datetime) -> Any:
    if not isinstance(item, dict):
        return item  # not a mention at all: validation says so

    def note(field: str, change: str) -> None:
        notes.append(Note(index, field, change))

    m = dict(item)
    source = m.get("source")
    if isinstance(source, str) and source.strip().lower() in SOURCES:
        m["source"] = source.strip().lower()
    elif isinstance(source, str) and source.strip():
        m["source"] = "other"
        note("source", f"{_show(source)} is not a known source: stored as other")
    for key in ("external_id", "in_reply_to"):
        if key in m:  # a missing id stays missing: "Field required" says what is wrong
            m[key] = _id(m[key], key, note)

    for key in ("text", "external_id", "in_reply_to", "url"):
        if key in m or key == "text":
            m[key] = _mend(m.get(key), key, note)
    text = m.get("text")
    if text is None or (isinstance(text, str) and not text.strip()):
        m["text"] = ""
        note("text", "no text (an image, a rating): the card says to open the original")
    elif not isinstance(text, str):
        m["text"] = str(text)
        note("text", "not a string: stored as its text")
    if len(m["text"]) > MAX_TEXT:
        note("text", f"{len(m['text']):,} characters: the first {MAX_TEXT:,} are kept")
        m["text"] = m["text"][:MAX_TEXT]

    if m.get("in_reply_to") in ("", None):
        m.pop("in_reply_to", None)
    if m.get("url") is None:
        m.pop("url", None)
    m["created_at"] = _moment(m.get("created_at"), note, now)
    if "url" in m and not is_web_link(m["url"]):
        note("url", f"{_unusable(m.pop('url'))}: left out")
    for key in ("addressed", "private"):
        if key in m and not isinstance(m[key], bool):
            m[key] = _flag(m[key])
            note(key, f"not true or false: read as {str(m[key]).lower()}")
    language = m.get("language")
    if language is not None and not (
        isinstance(language, str) and re.fullmatch(_LANGUAGE, language.strip())
    ):
        m.pop("language")
        if language != "":
            note("language", f"{_show(language)} is not a language code: left out")
    m["author"] = _author(m.get("author"), m.get("external_id"), note)
    return m


_LANGUAGE = r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*"


def _id(value: Any, field: str, note: Any) -> Any:
    if isinstance(value, bool):
        return value  # true/false is no id: validation says so
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        note(field, "a number: stored as its text")
        return str(int(value))
    if isinstance(value, str) and len(value.strip()) > MAX_ID:
        note(field, f"over {MAX_ID} characters: its start and a hash of the whole kept")
        return fitted_id(value.strip())
    return value


# Unix times by their size: a date between 1990 and 2200 counted in seconds is below 10**11,
# in milliseconds (JavaScript's Date.now()) below 10**14, in microseconds below 10**17.
_UNITS = ((10**11, 1, "seconds"), (10**14, 10**3, "milliseconds"), (10**17, 10**6, "microseconds"))
# A zone written as a word after the time ("2026-12-06 10:00:00 UTC"), as logs and exports do.
_UTC_WORD = re.compile(r"\s*(?:UTC|GMT|Z)$", re.IGNORECASE)


def _moment(given: Any, note: Any, now: datetime) -> Any:
    value = given
    if isinstance(value, str) and re.fullmatch(r"\s*\d{9,17}(?:\.\d+)?\s*", value):
        value = float(value)  # a unix time sent as a string
    if isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None and _UTC_WORD.search(text):
            with contextlib.suppress(ValueError):
                moment = datetime.fromisoformat(_UTC_WORD.sub("+00:00", text))
                note("created_at", "the zone written as a word: read as UTC")
        if moment is None:
            try:
                moment = parsedate_to_datetime(text)  # RFC 2822: mail and RSS
                note("created_at", "read as an RFC 2822 date")
            except (TypeError, ValueError, IndexError):
                moment = None
        if moment is not None and plausible(moment):
            return moment.isoformat()
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        _, per_second, unit = next(
            (unit for unit in _UNITS if abs(value) < unit[0]), (math.inf, 1, "seconds")
        )
        try:
            moment = datetime.fromtimestamp(value / per_second, UTC)
        except (OverflowError, OSError, ValueError):
            moment = None
        if moment is not None and plausible(moment):
            note("created_at", f"a unix timestamp: read as {unit} since 1970")
            return moment.isoformat()
    # No usable date: the moment it reached us is the best there is (Ingestor.plan caps a
    # mention's time at "now" anyway).
    note("created_at", f"{_show(given)} is not a usable date: the time it arrived is used")
    return now.isoformat()


def _author(value: Any, external_id: Any, note: Any) -> dict[str, Any]:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        # "author": "@anna", as flattened exports send it: the customer, not an anonymous one.
        note("author", "a string: taken as the handle")
        value = {"handle": value}
    author = dict(value) if isinstance(value, dict) else {}
    for key in ("handle", "name", "url"):
        if key in author:
            author[key] = _mend(author[key], f"author.{key}", note)
    if not isinstance(value, dict):
        note("author", "missing: the mention is its own case (anonymous)")
    handle = author.get("handle")
    if isinstance(handle, int | float) and not isinstance(handle, bool):
        handle = author["handle"] = str(handle)
        note("author.handle", "a number: stored as its text")
    if not isinstance(handle, str) or not handle.strip().lstrip("@"):
        # No handle: never join another customer's case, so one case per mention.
        author["handle"] = f"anonymous-{external_id}"[:MAX_HANDLE]
        if isinstance(value, dict):
            note("author.handle", "missing: the mention is its own case (anonymous)")
    elif len(handle.strip()) > MAX_HANDLE:
        author["handle"] = handle.strip()[:MAX_HANDLE]
        note("author.handle", f"over {MAX_HANDLE} characters: cut")
    name = author.get("name")
    if name is not None and not isinstance(name, str):
        author.pop("name")
        note("author.name", "not a string: left out")
    elif isinstance(name, str) and len(name.strip()) > MAX_NAME:
        author["name"] = name.strip()[:MAX_NAME]
        note("author.name", f"over {MAX_NAME} characters: cut")
    if "followers" in author:
        followers = _count(author["followers"])
        if followers != author["followers"]:
            shown = _show(author["followers"])
            if followers is None:
                note("author.followers", f"{shown} is not a follower count: unknown")
            else:
                note("author.followers", f"{shown} read as {followers}")
            author["followers"] = followers
    url = author.get("url")
    if url is not None and not is_web_link(url):
        if isinstance(url, str) and url.strip():
            author["contact"] = url.strip()[:MAX_URL]
            note("author.url", f"{_unusable(url)}: kept as text")
        author.pop("url")
    return author


# Half of a UTF-16 pair, alone: Python's JSON reader lets it through, nothing else takes it.
_SURROGATES = re.compile("[\ud800-\udfff]")


def _mend(value: Any, field: str, note: Any) -> Any:
    if isinstance(value, str) and _SURROGATES.search(value):
        note(field, "held broken characters (lone UTF-16 surrogates): replaced with U+FFFD")
        return _SURROGATES.sub("\ufffd", value)
    return value


_SUFFIXES = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
# A count's digits in groups of three, by the separators of English (1,200) or Dutch (1.200).
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+|\d{1,3}(?:\.\d{3})+")
_SPACES = re.compile(r"[\s_'\u00a0\u202f]")  # 1 200, 1_200, 1'200 (Swiss)


def _count(value: Any) -> int | None:
    """A follower count: 1200, "1200", "1,200", "50.000", "1.2K", "12,5K"; None when it is
    none of these."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number: float = value
    elif isinstance(value, str):
        text = _SPACES.sub("", value).lower()
        factor = _SUFFIXES.get(text[-1:], 1)
        digits = text[:-1] if factor > 1 else text
        if _THOUSANDS.fullmatch(digits):  # "1,200", "50.000", "2.500.000": groups of three
            digits = digits.replace(",", "").replace(".", "")
        elif factor > 1:  # "12,5K" as written in Dutch, German, French
            digits = digits.replace(",", ".")
        try:
            number = float(digits) * factor
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number) or not 0 <= number <= MAX_FOLLOWERS:
        return None
    return round(number)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "y", "ja")
    return bool(value)


def _unusable(url: Any) -> str:
    """Why `url` is no link a mention can keep."""
    if isinstance(url, str) and len(url) > MAX_URL:
        return f"{_show(url)} is {len(url):,} characters (at most {MAX_URL:,})"
    link = stored_link(url) if isinstance(url, str) else None
    if link is None:
        return f"{_show(url)} is not a web link"
    return f"{_show(url)} is {len(link):,} characters percent-encoded (at most {MAX_URL:,})"


def _show(value: Any) -> str:
    """A short, safe rendering of a sender's value for a note."""
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "…"
