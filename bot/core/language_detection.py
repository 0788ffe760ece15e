"""The language of a mention whose source did not say, so `languages:` rules, the card and
the draft modal (templates in the customer's language first) work for it too.

lingua's detector, offline, limited to the team's languages (`languages:` in webcare.yml) and in
its low-accuracy mode: trigram models only, about 12 MB for two languages against ~100 MB for
the full models. It still costs tens of microseconds a post, as much as reading and validating
the post: so the webhook detects only when a rule routes by language, and cards and the draft
modal detect when they are shown (paced by Slack, off the request path).

When it is not sure the mention keeps no language: a wrong guess would route it wrongly. Sure
means a confidence of 0.9 or more; on two languages that leaves out most posts of one to four
words ("Storing?", "My card is broken" read as Dutch at 0.88) and keeps almost every sentence.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from lingua import IsoCode639_1, LanguageDetector, LanguageDetectorBuilder

# Enough text to tell languages apart; a long e-mail costs no more than its start.
SAMPLE = 1000
# How sure lingua must be of the best language (its confidences add up to 1).
MIN_CONFIDENCE = 0.9


def known_language(code: str) -> bool:
    """Whether lingua can detect the language with this ISO 639-1 code."""
    try:
        IsoCode639_1.from_str(code)
    except ValueError:
        return False
    return True


class Detector:
    def __init__(self, languages: Iterable[str]) -> None:
        codes = sorted({code.lower() for code in languages})
        self.languages = tuple(codes)
        self._detector: LanguageDetector | None = None
        if len(codes) >= 2:  # with one language there is nothing to tell apart
            self._detector = (
                LanguageDetectorBuilder.from_iso_codes_639_1(
                    *(IsoCode639_1.from_str(code) for code in codes)
                )
                .with_low_accuracy_mode()
                .build()
            )

    def detect(self, text: str) -> str | None:
        """The ISO 639-1 code of the text's language, or None when unsure."""
        if self._detector is None or not text:
            return None
        ranked = self._detector.compute_language_confidence_values(text[:SAMPLE])
        if not ranked or ranked[0].value < MIN_CONFIDENCE:
            return None
        return ranked[0].language.iso_code_639_1.name.lower()


@lru_cache(maxsize=4)  # one per configuration in use
def detector_for(languages: frozenset[str]) -> Detector:
    return Detector(languages)


def language_of(text: str, given: str | None, *, among: Iterable[str]) -> tuple[str, bool] | None:
    """(language, detected): the one the source gave, else one detected among `among`; None
    when neither."""
    if given:
        return given, False
    found = detector_for(frozenset(among)).detect(text)
    return (found, True) if found else None
