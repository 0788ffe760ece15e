"""One test of what is a web link, for the mention model, the card and the sent-reply modal."""

from __future__ import annotations

import pytest

from bot.core.links import MAX_URL, is_web_link


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/acme/status/1",
        "HTTP://FORUM.EXAMPLE/t/123",
        " https://x.com/acme ",  # pasted with spaces around it
        "https://forum.example/search?q=late delivery",  # a space in the query: %20 when stored
    ],
)
def test_web_links_from_outside_are_taken(url: str) -> None:
    assert is_web_link(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example/a",
        "https://",
        "https://a b/",  # a space in the host: text, not a link
        "//x.com/acme",
        "x.com/acme",
        "https://x.com/" + "a" * MAX_URL,
        None,
        42,
    ],
)
def test_what_is_no_web_link_is_refused(url: object) -> None:
    assert not is_web_link(url)
