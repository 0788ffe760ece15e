"""Routing rules: which department gets a mention, with what priority and tags, and why."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.config import WebcareConfig
from bot.core.config.rules import Rule
from bot.core.folding import fold
from bot.core.language_detection import detector_for
from bot.intake.mentions import MentionIn


@dataclass(slots=True)  # not frozen: one is built for every mention, and frozen costs
class RouteDecision:
    department: str
    priority: str
    tags: tuple[str, ...]
    rule: str | None  # None: nothing matched, the default department took it
    reason: str
    sla_minutes: int | None = None  # the rule's own response target, if it sets one


class _CompiledRule:
    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        m = rule.match
        self.keywords = _keyword_pattern(m.keywords) if m.keywords else None
        self.regex = re.compile(m.regex, re.IGNORECASE) if m.regex else None
        self.sources = frozenset(m.sources)
        # Mentions carry the primary language ("en-GB" → en): so do the rules.
        self.languages = frozenset(lang.split("-")[0].split("_")[0].lower() for lang in m.languages)

    def explain(self, mention: MentionIn, folded: str) -> str | None:
        """Why this rule matches the mention, or None when it does not."""
        m, reasons = self.rule.match, []
        if self.sources:
            if mention.source not in self.sources:
                return None
            reasons.append(f"source {mention.source}")
        if self.languages:
            if mention.language not in self.languages:
                return None
            detected = " (detected)" if mention.language_detected else ""
            reasons.append(f"language {mention.language}{detected}")
        if m.addressed is not None:
            if mention.addressed != m.addressed:
                return None
            reasons.append("addressed" if m.addressed else "not addressed")
        if m.private is not None:
            if mention.private != m.private:
                return None
            reasons.append("private" if m.private else "public")
        if m.min_followers is not None:
            followers = mention.author.followers or 0
            if followers < m.min_followers:
                return None
            reasons.append(f"{followers} followers ≥ {m.min_followers}")
        if self.keywords:
            found = self.keywords.search(folded)
            if not found:
                return None
            reasons.append(f'keyword "{found.group(0)}"')
        if self.regex:
            found = self.regex.search(mention.text)
            if not found:
                return None
            reasons.append(f'pattern "{found.group(0)[:40]}"')
        return ", ".join(reasons)


def _keyword_pattern(keywords: list[str]) -> re.Pattern[str]:
    # Whole words only ("bank" must not match "bankrupt"); a phrase matches across any spacing.
    # Lookarounds instead of \b so keywords like "#brand" or "@brand" work too.
    parts = sorted({r"\s+".join(map(re.escape, fold(k).split())) for k in keywords}, key=len)
    return re.compile(r"(?<!\w)(?:" + "|".join(reversed(parts)) + r")(?!\w)")


class Router:
    """First matching rule wins; the default department catches the rest."""

    def __init__(self, config: WebcareConfig) -> None:
        self.default = config.default_department
        self.rules = [_CompiledRule(rule) for rule in config.rules]
        # Detecting costs as much as reading the mention: only when a rule routes by language.
        by_language = any(rule.match.languages for rule in config.rules)
        self.detector = detector_for(frozenset(config.team_languages())) if by_language else None

    def with_language(self, mention: MentionIn) -> MentionIn:
        """The mention with its language detected when a rule routes by language and the
        source gave none."""
        if mention.language is not None or self.detector is None:
            return mention
        if not (found := self.detector.detect(mention.text)):
            return mention
        return mention.model_copy(update={"language": found, "language_detected": True})

    def route(self, mention: MentionIn) -> RouteDecision:
        folded = fold(mention.text)
        for compiled in self.rules:
            reason = compiled.explain(mention, folded)
            if reason is not None:
                rule = compiled.rule
                return RouteDecision(
                    department=rule.department,
                    priority=rule.priority or "normal",
                    tags=tuple(rule.tags),
                    rule=rule.name,
                    reason=reason,
                    sla_minutes=rule.sla_minutes,
                )
        return RouteDecision(
            department=self.default,
            priority="normal",
            tags=(),
            rule=None,
            reason="no rule matched: default department",
        )
