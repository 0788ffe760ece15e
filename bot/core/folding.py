"""Matching words the way people mean them: case and accents do not count."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Case- and accent-insensitive form: "Café" and "cafe" fold alike."""
    if text.isascii():  # most mentions: nothing to decompose
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
