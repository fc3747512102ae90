"""Reading model output: cleaning, measuring, sections, list items, summaries, similarity."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache


def lazy(regex: str, flags: int = 0) -> Callable[[], re.Pattern[str]]:
    """``regex``, compiled on first use: importing a module of patterns stays cheap (cold start).

    Call the result for the pattern: ``_WORD = lazy(r"\\w+")`` then ``_WORD().findall(text)``.
    """
    return cache(lambda: re.compile(regex, flags))


# C0 controls except tab and newline, DEL, and C1 controls; NUL among them.
_CONTROL = lazy(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CJK_RUN = lazy(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+")
_WORD = lazy(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")
_HEADING = lazy(r"^\s{0,3}#{1,6}\s*(?P<title>.+?)\s*#*\s*$")
_BOLD_LINE = lazy(r"^\s*(?:[-*+]\s+)?\*\*(?P<title>[^*]{1,60}?)\*\*\s*[:：]?\s*$")
_ITEM_MARK = lazy(r"^\s*(?:[-*+•·]|\d{1,3}[.)、])\s*")
_NUMBERING = lazy(
    r"^(?:\d{1,3}(?:\.\d{1,3})*[.)、]?|[一二三四五六七八九十]{1,3}[、.]|第[一二三四五六七八九十\d]+[部分步节章]?[:：、]?)\s*"
)
_PUNCT = lazy(r"[\s\W_]+", re.UNICODE)


def clean(text: str) -> str:
    """Strip NUL and other control characters (tab and newline stay) and surrounding whitespace."""
    return _CONTROL().sub("", text).strip()


@lru_cache(maxsize=256)
def measure(text: str) -> int:
    """Length in content units: one per CJK character plus one per Latin word or number.

    A unit is roughly one Chinese character or one English word, so one set of depth bounds
    serves both languages.
    """
    # Runs, not characters: findall makes one string per match.
    return sum(map(len, _CJK_RUN().findall(text))) + len(_WORD().findall(text))


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Lower-case, drop numbering, punctuation and whitespace: the form titles are compared in."""
    return _PUNCT().sub("", _NUMBERING().sub("", text.strip().lower()))


def first_sentence(text: str, limit: int) -> str:
    """The first meaningful line of ``text`` that is not a heading, cut to ``limit`` characters."""
    for line in text.splitlines():
        if _HEADING().match(line) or _BOLD_LINE().match(line) or line.lstrip().startswith(">"):
            continue
        stripped = _ITEM_MARK().sub("", line).strip(" *")
        if measure(stripped) >= 2:
            return shorten(stripped, limit)
    return shorten(" ".join(text.split()), limit)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"
