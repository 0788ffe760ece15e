"""Where in a document a validation error sits, written the way people read it."""

from __future__ import annotations

from collections.abc import Sequence


def format_loc(loc: Sequence[str | int]) -> str:
    """`("rules", 3, "match")` → `rules[3].match`; `(2, "text")` → `[2].text`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
