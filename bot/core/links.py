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
    parsed = urlparse(value.strip())
    if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        return False
    if any(c.isspace() for c in parsed.netloc):
        return False
    try:
        link = _HTTP_URL.validate_python(value)
    except ValidationError:
        return False
    # Measured as stored: percent-encoded, a Cyrillic or Arabic path is several times longer.
    return len(str(link)) <= MAX_URL
