"""The mention object every source produces (DESIGN.md section 4), validated and normalised."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    Strict,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.links import MAX_URL
from bot.core.locations import format_loc
from bot.core.platforms import Source
from bot.intake.markup import readable

# Input limits (README, "Input limits"). A long e-mail fits; the card shows the start anyway.
MAX_TEXT = 100_000
MAX_ID = 255
MAX_HANDLE = 200
MAX_NAME = 200
MAX_FOLLOWERS = 2**31 - 1  # an INTEGER column; no account has more followers


def fitted_id(value: str) -> str:
    """An id as stored: one over MAX_ID characters keeps its start and gets a hash of the
    whole (cut short, two long ids that differ only at the end, such as two reviews' URLs,
    would be one mention), so the same id always gives the same stored one."""
    if len(value) <= MAX_ID:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"{value[: MAX_ID - len(digest) - 1]}~{digest}"


# Dates outside these years are a sender's bug (year 1, 9999), not when somebody wrote.
EARLIEST_YEAR, LATEST_YEAR = 1990, 2200


def plausible(moment: datetime) -> bool:
    """Whether `moment` can be when somebody wrote (and stays in range once made UTC)."""
    return EARLIEST_YEAR <= moment.year <= LATEST_YEAR


# Unicode category Cc (C0, DEL and C1 controls) except newline and tab.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# Explicit direction embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    # NFC so "é" typed two ways is one string; drop NULs and other controls except newline/tab.
    if text.isascii() and text.isprintable():  # most ids and handles: nothing to change
        return text.strip()
    return _CONTROLS.sub("", unicodedata.normalize("NFC", text)).strip()


def _fold_handle(handle: str) -> str:
    # "@Anna", "anna", "ａｎｎａ" (full-width) and "an\u200bna" (a zero-width space) are one
    # customer when threading into a case: NFKC folds look-alike forms, and format characters
    # (zero-width, direction marks) are invisible, so they cannot tell two customers apart.
    if handle.isascii():  # already NFKC, and no format characters in ASCII
        visible = handle.strip()
    else:
        compatible = unicodedata.normalize("NFKC", handle)
        visible = "".join(c for c in compatible if unicodedata.category(c) != "Cf").strip()
    folded = visible.removeprefix("@").casefold() or visible or handle
    return folded[:MAX_HANDLE]  # casefold can grow a string ("ß" → "ss")


def _plain_name(name: str) -> str | None:
    # A right-to-left override in a name turns the rest of the card's line around.
    return _BIDI_CONTROLS.sub("", name).strip() or None if name else name


def _short(url: HttpUrl | None) -> HttpUrl | None:
    if url is not None and len(str(url)) > MAX_URL:
        raise ValueError(f"at most {MAX_URL} characters")
    return url


def _set(model: BaseModel, changes: dict[str, Any]) -> None:
    """Give a model being validated its normalised values (frozen once validation is done)."""
    model.__dict__.update(changes)


# Normalising is one validator per object (`_normalised`), not one per field: each validator
# is a call from pydantic-core into Python, and with one per field they cost more than reading
# the JSON. Length limits stay pydantic's own (on the value as sent, as they always were).


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class Author(_Model):
    handle: Annotated[str, Field(min_length=1, max_length=MAX_HANDLE)]
    name: Annotated[str, Field(max_length=MAX_NAME)] | None = None
    # Strict: "50.000" (fifty thousand, in Dutch) would be read as 50; repair reads strings.
    followers: Annotated[int, Strict(), Field(ge=0, le=MAX_FOLLOWERS)] | None = None
    url: Annotated[HttpUrl | None, AfterValidator(_short)] = None
    # An author "link" that is no web link (mailto:, tel:, at://, no scheme): kept as text.
    contact: Annotated[str, Field(max_length=MAX_URL)] | None = None

    @property
    def stored_url(self) -> str | None:
        """What the case keeps as the author's link: the web link, else the contact text."""
        return str(self.url) if self.url else self.contact or None

    @model_validator(mode="after")
    def _normalised(self) -> Author:
        handle, name, contact = self.handle, self.name, self.contact
        changes: dict[str, Any] = {}
        if (folded := _fold_handle(_clean(handle))) != handle:
            changes["handle"] = folded
        if name is not None and (plain := _plain_name(_clean(name))) != name:
            changes["name"] = plain
        if contact is not None and (cleaned := _clean(contact)) != contact:
            changes["contact"] = cleaned
        if changes:
            _set(self, changes)
        return self


_PRIMARY_LANGUAGE = re.compile(r"[-_].*", re.DOTALL)


class MentionIn(_Model):
    """One incoming mention, as posted to the webhook or read from a JSONL import."""

    source: Source
    external_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    url: Annotated[HttpUrl | None, AfterValidator(_short)] = None
    text: Annotated[str, Field(max_length=MAX_TEXT)]
    created_at: datetime
    author: Author
    addressed: bool = False
    private: bool = False
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")] | None = (
        None
    )
    in_reply_to: Annotated[str, Field(max_length=MAX_ID)] | None = None
    # Set here, never by the sender: the text as sent, when markup was taken out of `text`.
    raw_text: str | None = None
    # Set by the ingestor when it detected `language` (the sender gave none).
    language_detected: bool = False

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # Sources that omit the offset almost always mean UTC.
        if not plausible(value):
            raise ValueError(f"not a plausible date (years {EARLIEST_YEAR}-{LATEST_YEAR})")
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    @model_validator(mode="after")
    def _normalised(self) -> MentionIn:
        changes: dict[str, Any] = {}
        if self.raw_text is not None or self.language_detected:  # not the sender's to set
            changes |= {"raw_text": None, "language_detected": False}
        for key in ("external_id", "in_reply_to"):
            value = getattr(self, key)
            if value is not None and (cleaned := _clean(value)) != value:
                changes[key] = cleaned
        text = cleaned = _clean(self.text)
        # Senders pass on HTML as platforms and mail gateways gave it ("ge&iuml;ncasseerd",
        # "<p>…</p>"): rules must match the word and the card must show it, so `text` is the
        # readable form and the text as sent is kept beside it.
        if "<" in cleaned or "&" in cleaned:
            shown = _clean(readable(cleaned))
            if shown != cleaned:
                cleaned, changes["raw_text"] = shown, text
        if cleaned != self.text:
            changes["text"] = cleaned
        if self.language is not None:
            primary = _PRIMARY_LANGUAGE.sub("", self.language).lower()
            if primary != self.language:
                changes["language"] = primary
        if changes:
            _set(self, changes)
        return self


class MentionError(ValueError):
    """A mention payload that cannot be accepted; `field` is where (`[2].author.handle`)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


_ONE = TypeAdapter(MentionIn)
_MANY = TypeAdapter(list[MentionIn])


def _first_error(exc: ValidationError) -> MentionError:
    error = exc.errors(include_url=False)[0]
    field = format_loc(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return MentionError(f"{field}: {message}" if field else message, field or None)


def parse_mentions(payload: Any) -> list[MentionIn]:
    """Validate one mention object or a JSON array of them; raises `MentionError`."""
    try:
        if isinstance(payload, list):
            if not payload:
                raise MentionError("the array holds no mentions")
            return _MANY.validate_python(payload)
        if isinstance(payload, dict):
            return [_ONE.validate_python(payload)]
    except ValidationError as exc:
        raise _first_error(exc) from None
    raise MentionError("expected a mention object or an array of mention objects")


def parse_body(body: bytes) -> list[MentionIn] | None:
    """The mentions of a well-formed JSON body, read and validated in one step by pydantic-core;
    None for anything else (not JSON, an invalid mention, an empty array): then
    `parse_mentions(json.loads(body))` says what is wrong, exactly as it always has."""
    start = body.lstrip()[:1]
    try:
        if start == b"{":
            return [_ONE.validate_json(body)]
        if start == b"[":
            return _MANY.validate_json(body) or None
    except ValidationError:
        pass
    return None
