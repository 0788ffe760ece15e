"""The English and Dutch catalogue, and locale-aware formatting with Babel."""

from __future__ import annotations

from datetime import datetime

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_compact_decimal

from bot.core.catalogue import CATALOGUE, Lang


def t(key: str, lang: Lang, **values: object) -> str:
    """The catalogue text for `key` in `lang`, with `values` filled in."""
    return CATALOGUE[key][lang].format(**values)


def t_or(key: str, lang: Lang, default: str) -> str:
    """The catalogue text for `key`, or `default` when there is none (configured names)."""
    return CATALOGUE[key][lang] if key in CATALOGUE else default


def tn(key: str, count: int, lang: Lang, **values: object) -> str:
    """Like `t`, choosing the `.one` or `.other` form by `count`."""
    return t(f"{key}.{'one' if count == 1 else 'other'}", lang, count=count, **values)


def format_when(moment: datetime, *, lang: Lang, timezone: str) -> str:
    """A short date and time in the team's zone, e.g. "Fri 27 Nov 16:45"."""
    return format_datetime(moment, "EEE d MMM HH:mm", tzinfo=timezone, locale=lang)


def format_count(count: int, *, lang: Lang) -> str:
    """12,345 → "12K" (en) / "12K" (nl): follower counts read at a glance."""
    return format_compact_decimal(count, locale=lang, fraction_digits=1)


def language_name(code: str, lang: Lang) -> str:
    """ "nl" → "Dutch" (en) / "Nederlands" (nl); a code Babel does not know stays a code."""
    return Locale.parse(lang).languages.get(code.lower(), code)
