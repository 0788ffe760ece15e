"""Web links that come from outside (a customer's profile, a sent reply's address): one test of
what counts as one, so the model, the card and a modal agree."""

from __future__ import annotations

from urllib.parse import urlparse

from pydantic import HttpUrl, TypeAdapter, ValidationError

MAX_URL = 2048  # what the url columns hold
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def is_web_link(value: object) -> bool:
    """An http(s) address with a host (no white space in it), at most MAX_URL long once
    encoded, that pydantic's HttpUrl takes (it encodes a space in the path or query as %20):
    a `javascript:` or `data:` "link" is never one."""
    if not isinstance(value, str) or len(value) > MAX_URL:
        return False
    link = stored_link(value)
    return link is not None and len(link) <= MAX_URL


def stored_link(value: str) -> str | None:
    """`value` as the url columns would keep it, percent-encoded (a Cyrillic or Arabic path is
    several times longer), whatever its length; None when it is no web link at all."""
    parsed = urlparse(value.strip())
    if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        return None
    if any(c.isspace() for c in parsed.netloc):
        return None
    try:
        return str(_HTTP_URL.validate_python(value))
    except ValidationError:
        return None
