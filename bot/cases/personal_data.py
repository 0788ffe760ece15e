"""Flag personal data in a draft reply before it is posted in public.

Candidates are found with permissive regexes and kept only when a library validates them:
IBANs with ``schwifty``, phone numbers with ``phonenumbers``, BSNs and card numbers with
``python-stdnum``. E-mail addresses and Dutch addresses (postcode plus house number) are regex
only; companies add their own formats (order or customer numbers) as ``extra_patterns``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import phonenumbers
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import luhn
from stdnum.nl import bsn

__all__ = ["Finding", "find_personal_data"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data: its kind, the text as written, and its span in the draft."""

    kind: str
    text: str
    start: int
    end: int


# When findings overlap the one whose kind comes first here wins; configured patterns beat all.
_PRIORITY = ("iban", "card_number", "bsn", "email", "phone", "postcode_house_number")

# Two-letter country code, check digits, then a 10-30 character BBAN: compact or in groups of 4.
_IBAN_RE = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{10,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b",
    re.IGNORECASE,
)
_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
    r"@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}\b"
)
# Not followed by more digits or a decimal part, so amounts and long ids do not qualify.
_NUM_END = r"(?!\d|[.,:-]\d)"
_BSN_RE = re.compile(rf"(?<![\w.,:/+-])(?:\d{{9}}|\d{{4}}\.\d{{2}}\.\d{{3}}){_NUM_END}")
# Card numbers never start with 0 (this also keeps out phone numbers written as 0031...). Grouped
# forms are the printed ones: 4-4-4-4(-3), and 4-6-5 / 4-6-4 for Amex and Diners.
_CARD_RE = re.compile(
    r"(?<![\w.,:/+-])[1-9](?:\d{12,18}|\d{3}(?:[ -]\d{4}){3}(?:[ -]\d{3})?"
    rf"|\d{{3}}[ -]\d{{6}}[ -]\d{{4,5}}){_NUM_END}"
)
_HOUSE_NUMBER = r"\d{1,5}(?:-?[A-Za-z]\b|-\d{1,3})?"
# Dutch postcode: no leading zero, and the letter pairs SA, SD and SS are never issued.
_POSTCODE_RE = re.compile(
    rf"(?P<before>(?:\b[^\W\d_][\w'.-]* )?(?<![\w.,:/-]){_HOUSE_NUMBER},? )?"
    r"\b[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}\b"
    rf"(?P<after>,? (?:(?:nr|no)\.? )?{_HOUSE_NUMBER}(?![\w-]|[.,:]\d))?"
)
# Digits inside links and hashtags are ids, not personal data.
_NUMERIC_KINDS = frozenset({"card_number", "bsn", "phone", "postcode_house_number"})
_MASK_RE = re.compile(r"(?:https?://|www\.)\S+|(?<!\w)#\w+")
# Company service lines (0800, 090x, 088) are not personal numbers.
_SERVICE_NUMBER_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
    }
)


def find_personal_data(
    text: str,
    *,
    extra_patterns: Mapping[str, re.Pattern[str]] | None = None,
    default_region: str = "NL",
) -> list[Finding]:
    """All personal data in `text`, in order of appearance, overlapping findings merged (keep the
    more specific)."""
    extras = [f for name, rx in (extra_patterns or {}).items() for f in _from_regex(name, rx, text)]
    builtin = [
        *_ibans(text),
        *_validated(text, _CARD_RE, "card_number", _is_card_number),
        *_validated(text, _BSN_RE, "bsn", bsn.is_valid),
        *_from_regex("email", _EMAIL_RE, text),
        *_phones(text, default_region),
        *_postcodes(text),
    ]
    masked = [m.span() for m in _MASK_RE.finditer(text)]
    builtin = [
        f
        for f in builtin
        if f.kind not in _NUMERIC_KINDS or not any(s <= f.start and f.end <= e for s, e in masked)
    ]
    return _merge([(-1, f) for f in extras] + [(_PRIORITY.index(f.kind), f) for f in builtin])


def _from_regex(kind: str, pattern: re.Pattern[str], text: str) -> Iterator[Finding]:
    for match in pattern.finditer(text):
        if match.end() > match.start():
            yield Finding(kind, match.group(), match.start(), match.end())


def _validated(
    text: str, pattern: re.Pattern[str], kind: str, is_valid: Callable[[str], bool]
) -> Iterator[Finding]:
    for finding in _from_regex(kind, pattern, text):
        if is_valid(re.sub(r"\D", "", finding.text)):
            yield finding


def _is_card_number(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _ibans(text: str) -> Iterator[Finding]:
    """IBAN candidates that schwifty accepts, dropping trailing groups that were not part of it."""
    pos = 0
    while match := _IBAN_RE.search(text, pos):
        pos = match.start() + 1
        groups = match.group().split(" ")
        while len("".join(groups)) >= 14:
            candidate = " ".join(groups)
            if _is_iban(candidate):
                end = match.start() + len(candidate)
                yield Finding("iban", candidate, match.start(), end)
                pos = end
                break
            groups.pop()


def _is_iban(candidate: str) -> bool:
    try:
        IBAN(candidate)
    except SchwiftyException:
        return False
    return True


def _phones(text: str, region: str) -> Iterator[Finding]:
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        if phonenumbers.number_type(match.number) not in _SERVICE_NUMBER_TYPES:
            yield Finding("phone", match.raw_string, match.start, match.end)


def _postcodes(text: str) -> Iterator[Finding]:
    for match in _POSTCODE_RE.finditer(text):
        if match.group("before") or match.group("after"):
            yield Finding("postcode_house_number", match.group(), match.start(), match.end())


def _merge(candidates: list[tuple[int, Finding]]) -> list[Finding]:
    """Keep the most specific (then longest) finding of each overlapping group, in text order."""
    kept: list[Finding] = []
    for _, finding in sorted(candidates, key=lambda c: (c[0], c[1].start - c[1].end, c[1].start)):
        if all(finding.end <= k.start or k.end <= finding.start for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: (f.start, f.end))
