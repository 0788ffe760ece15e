"""HTML in a post's text, turned into the plain text a team reads and rules match.

Feeds always send HTML. Webhook senders send plain text, except when they pass on what a
platform or a mail gateway gave them (`ge&iuml;ncasseerd`, `<p>…</p>`): then the keyword in
that word must still match and the card must not show the entity. Plain text that merely
contains a `<` or an `&` ("a < b", "AT&T", "<Enter>") is left exactly as it is.

Linear in the length of the text, whatever it holds: customer text is hostile input, and
Python's `html.parser` takes quadratic time on some broken markup (`"<a" * 50_000` kept a
webhook request busy for seconds; CVE-2025-6069). So no parser: comments and script/style
contents are cut out with `str.find`, tags with one regular expression whose only repetition
stops at the next `<` or `>`, and entities are decoded once, after the tags are gone
(`&amp;lt;b&amp;gt;` is the text `&lt;b&gt;`, not a tag).
"""

from __future__ import annotations

import html
import re

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
# Elements whose contents are not text (only these two: "<title>" in a customer's sentence
# must not swallow the rest of it).
_DROPPED = ("script", "style")
# A tag of real HTML (`<p>`, `</a>`, `<br/>`, `<img src=…>`). "<3", "a < b" and "<Enter>" are
# not: they are what the customer typed.
_KNOWN_TAG = re.compile(
    r"</?({})(?:\s[^<>]*)?/?>".format("|".join(sorted(_BREAKS | _INLINE | set(_DROPPED)))),
    re.IGNORECASE,
)
# Any tag, for feeds, which are HTML for certain.
_ANY_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?/?>|<[!?][^<>]*>")
# An entity with its semicolon (`&amp;`, `&#233;`, `&#xE9;`); "AT&T" and "R&D" are not.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n)+")


def _cut_out(text: str, start: str, end: str) -> str:
    """`text` without each `start … end` stretch (case-insensitive); an unterminated one is
    kept as text. Linear: every character is looked at a bounded number of times."""
    lowered = text.lower()
    if start not in lowered:
        return text
    kept, at = [], 0
    while (begin := lowered.find(start, at)) != -1:
        finish = lowered.find(end, begin + len(start))
        if finish == -1:
            break
        kept.append(text[at:begin])
        at = finish + len(end)
    kept.append(text[at:])
    return "".join(kept)


def _without_code(text: str) -> str:
    text = _cut_out(text, "<!--", "-->")
    for name in _DROPPED:
        text = _cut_out(text, f"<{name}", f"</{name}>")
    return text


def _tags_to_breaks(pattern: re.Pattern[str], text: str) -> str:
    def replace(tag: re.Match[str]) -> str:
        name = (tag.group(1) or "").lower()
        return "\n" if name in _BREAKS else ""

    return pattern.sub(replace, text)


def plain_text(fragment: str) -> str:
    """Text of an HTML fragment (a feed item): tags stripped, entities decoded, white space
    folded into single spaces."""
    text = _tags_to_breaks(_ANY_TAG, _without_code(fragment))
    return " ".join(html.unescape(text).split())


def readable(text: str) -> str:
    """Plain text for a post that may carry HTML: with tags, an HTML fragment (paragraphs and
    line breaks kept as lines); with entities only, those decoded and nothing else touched.
    Text without markup comes back unchanged."""
    if "<" in text and _KNOWN_TAG.search(text):
        text = _tags_to_breaks(_KNOWN_TAG, _without_code(text))
        text = _ENTITY.sub(lambda m: html.unescape(m.group()), text)
        lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    if "&" in text:
        return _ENTITY.sub(lambda m: html.unescape(m.group()), text)
    return text
