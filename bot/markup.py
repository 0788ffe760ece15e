"""HTML in a post's text, turned into the plain text a team reads and rules match.

Feeds always send HTML. Webhook senders send plain text, except when they pass on what a
platform or a mail gateway gave them (`ge&iuml;ncasseerd`, `<p>…</p>`): then the keyword in
that word must still match and the card must not show the entity. Plain text that merely
contains a `<` or an `&` ("a < b", "AT&T", "<Enter>") is left exactly as it is.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

# Tags that end a line of text (everything else is inline and just dropped).
_BREAKS = frozenset(
    {
        "br",
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "blockquote",
        "hr",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
    }
)
_INLINE = frozenset(
    {
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "big",
        "cite",
        "code",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "img",
        "ins",
        "kbd",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
        "wbr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "caption",
        "center",
    }
)
_DROPPED = frozenset(("script", "style", "head", "title"))
# A tag of real HTML (`<p>`, `</a>`, `<br/>`, `<img src=…>`), or a comment. "<3", "a < b" and
# "<Enter>" are not: they are what the customer typed.
_TAG = re.compile(
    r"<!--|</?(?:{})(?:\s[^<>]*)?/?>".format("|".join(sorted(_BREAKS | _INLINE | _DROPPED))),
    re.IGNORECASE,
)
# An entity with its semicolon (`&amp;`, `&#233;`, `&#xE9;`); "AT&T" and "R&D" are not.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*(?:\n\s*)+")


class _Text(HTMLParser):
    """Collects the text of an HTML fragment; script and style contents are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _DROPPED:
            self._skip += 1
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED and self._skip:
            self._skip -= 1
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        if tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html_to_text(fragment: str) -> str:
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return html.unescape("".join(parser.parts))


def plain_text(fragment: str) -> str:
    """Text of an HTML fragment (a feed item): tags stripped, entities decoded, white space
    folded into single spaces."""
    return " ".join(_html_to_text(fragment).split())


def has_markup(text: str) -> bool:
    """Whether `text` holds HTML tags or character entities (cheap for the usual plain text)."""
    return ("<" in text and _TAG.search(text) is not None) or (
        "&" in text and _ENTITY.search(text) is not None
    )


def readable(text: str) -> str:
    """Plain text for a post that may carry HTML: with tags, an HTML fragment (paragraphs and
    line breaks kept as lines); with entities only, those decoded and nothing else touched.
    Text without markup comes back unchanged."""
    if "<" in text and _TAG.search(text):
        lines = (_SPACES.sub(" ", line).strip() for line in _html_to_text(text).split("\n"))
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    if "&" in text:
        return _ENTITY.sub(lambda m: html.unescape(m.group()), text)
    return text
