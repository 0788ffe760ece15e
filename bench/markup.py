"""Reading HTML out of customer text stays linear, whatever the customer sends.

Times `bot.intake.markup.readable` (webhook text) and `plain_text` (feeds) on 100,000 characters of
broken markup that makes a parser quadratic (`"<a" * n`, `"<!--" * n`: CVE-2025-6069 in
Python's html.parser), against the same length of ordinary HTML, in the same run. A ratio near
1 means hostile input costs what ordinary input costs; html.parser's own ratio is shown beside.
Run: `python -m bench.markup`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from html.parser import HTMLParser

from bench._common import emit
from bot.intake.markup import plain_text, readable

SIZE = 100_000
ORDINARY = ("<p>Mijn <b>pas</b> werkt niet &amp; de app ook niet.</p>" * 2_000)[:SIZE]
HOSTILE = {
    "unclosed_tags": ("<b>x</b>" + "<a" * SIZE)[:SIZE],
    "unclosed_comments": ("<b>x</b>" + "<!--" * SIZE)[:SIZE],
    "unclosed_scripts": ("<b>x</b>" + "<script" * SIZE)[:SIZE],
}


def _seconds(read: Callable[[str], object], text: str, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        read(text)
        best = min(best, time.perf_counter() - start)
    return best


def _html_parser(text: str) -> None:
    parser = HTMLParser()
    parser.feed(text)
    parser.close()


def main() -> None:
    result: dict[str, object] = {"benchmark": "markup", "characters": SIZE}
    for name, read in (("readable", readable), ("plain_text", plain_text)):
        base = _seconds(read, ORDINARY)
        result[name] = {
            "ordinary_ms": round(base * 1000, 2),
            **{
                f"{kind}_vs_ordinary": round(_seconds(read, text) / base, 2)
                for kind, text in HOSTILE.items()
            },
        }
    small = SIZE // 10  # html.parser on the full size takes minutes
    base = _seconds(_html_parser, ORDINARY[:small], repeat=1)
    result["html_parser_at_10k_chars"] = {
        f"{kind}_vs_ordinary": round(_seconds(_html_parser, text[:small], repeat=1) / base, 1)
        for kind, text in HOSTILE.items()
    }
    emit(result)


if __name__ == "__main__":
    main()
