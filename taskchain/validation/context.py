"""What every check reads (the output, its sections, the chain) and how feedback is worded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from taskchain.models import ChainDefinition, Feedback, Fingerprint, Rule, StepSpec
from taskchain.structure import Section
from taskchain.text import shorten

_QUOTE = 60


def t(language: str, zh: str, en: str) -> str:
    """Pick the text in ``language``."""
    return en if language == "en" else zh


@dataclass(frozen=True, slots=True)
class Context:
    """What every check may read: the output, its sections, the chain and earlier outputs."""

    lang: str
    output: str
    sections: Mapping[str, Section]
    keys: Mapping[str, str]  # section title (session language) -> section key
    names: tuple[str, ...]  # target, focus areas and section titles: names, not content
    known: frozenset[str]  # their content words and the step's own wording: not new content
    wording: frozenset[str]  # the step's own wording only (name, description, questions, titles)
    definition: ChainDefinition
    step: StepSpec
    earlier: Mapping[str, Fingerprint]  # the earlier outputs, as their checks read them


def result(ctx: Context, rule: Rule, passed: bool, zh: str, en: str, hint: str = "") -> Feedback:
    """A feedback entry for ``rule``."""
    return Feedback(
        rule=rule.rule,
        passed=passed,
        severity=rule.severity,
        message=t(ctx.lang, zh, en),
        hint="" if passed else hint,
    )


def q(text: str) -> str:
    """A short quotation of ``text``."""
    return shorten(text, _QUOTE)


def quotes(ctx: Context, texts: list[str]) -> str:
    """Short quotations of ``texts``, marked the session language's way."""
    if ctx.lang == "en":
        return "; ".join(f"'{q(t)}'" for t in texts)
    return "；".join(f"「{q(t)}」" for t in texts)
