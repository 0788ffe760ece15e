"""Every text the bot shows, in English and Dutch, and locale-aware formatting with Babel.

The texts are gettext catalogues (bot/core/locale/<lang>/LC_MESSAGES/webcare.po), read with
Babel when the bot starts; the msgid is a key ("card.followers"), so a translator's tool
(Poedit, Weblate) shows where each text appears, and plurals follow each language's rule.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from gettext import GNUTranslations
from pathlib import Path
from typing import Literal

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_compact_decimal

Lang = Literal["en", "nl"]
LANGUAGES: tuple[Lang, ...] = ("en", "nl")
LOCALES = Path(__file__).with_name("locale")
PLURAL = ".plural"  # a plural's msgid_plural is its key with this after it


def catalogue_path(lang: Lang) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "webcare.po"


def _load(lang: Lang) -> tuple[GNUTranslations, frozenset[str]]:
    with catalogue_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    keys = frozenset(m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id)
    return GNUTranslations(compiled), keys


_LOADED = {lang: _load(lang) for lang in LANGUAGES}


def t(key: str, lang: Lang, **values: object) -> str:
    """The catalogue text for `key` in `lang`, with `values` filled in."""
    translations, keys = _LOADED[lang]
    if key not in keys:
        raise KeyError(f"no text {key!r} in the {lang} catalogue")
    return translations.gettext(key).format(**values)


def t_or(key: str, lang: Lang, default: str) -> str:
    """The catalogue text for `key`, or `default` when there is none (configured names)."""
    translations, keys = _LOADED[lang]
    return translations.gettext(key) if key in keys else default


def tn(key: str, count: int, lang: Lang, **values: object) -> str:
    """Like `t`, in the form the language uses for `count` (1 message, 2 messages)."""
    translations, keys = _LOADED[lang]
    if key not in keys:
        raise KeyError(f"no plural text {key!r} in the {lang} catalogue")
    return translations.ngettext(key, key + PLURAL, count).format(count=count, **values)


@lru_cache(maxsize=4096)
def format_when(moment: datetime, *, lang: Lang, timezone: str) -> str:
    """A short date and time in the team's zone, e.g. "Fri 27 Nov 16:45". Remembered: a
    storm's digest shows a deadline per row, and rows share them."""
    return format_datetime(moment, "EEE d MMM HH:mm", tzinfo=timezone, locale=lang)


def format_count(count: int, *, lang: Lang) -> str:
    """12,345 → "12K" (en) / "12K" (nl): follower counts read at a glance."""
    return format_compact_decimal(count, locale=lang, fraction_digits=1)


def language_name(code: str, lang: Lang) -> str:
    """ "nl" → "Dutch" (en) / "Nederlands" (nl); a code Babel does not know stays a code."""
    return Locale.parse(lang).languages.get(code.lower(), code)
