"""The words of a text: content units, content words, key terms, names and shingles.

Every check reads an output through these, several times over (each check on its own, the
fingerprint of an accepted output, the guidance of the next step), so they are cached by text,
and :func:`content_tokens` by line too: text that differs in a few lines (an output with its
focus areas blanked out) reads only those lines again. Patterns compile on first use.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Collection, Iterable
from functools import cache, lru_cache
from typing import TypeAlias

from taskchain.lexicon import (
    EN_GENERIC,
    EN_STOP,
    ZH_FUNCTION_CHARS,
    ZH_GENERIC,
    ZH_PHRASE_BREAKS,
)
from taskchain.text import lazy

_CJK_CLASS = "[\u3400-\u9fff\uf900-\ufaff]"
_CJK_RUN = lazy(f"{_CJK_CLASS}+")
# Every pair of adjacent CJK characters, overlapping ("咖啡店" -> 咖啡, 啡店).
_CJK_PAIR = lazy(f"(?=({_CJK_CLASS}{{2}}))")
_WORD = lazy(r"[A-Za-z][A-Za-z0-9]*(?:['’-][A-Za-z0-9]+)*|\d+(?:[.,]\d+)*")
_LATIN_WORD = lazy(r"[A-Za-z][A-Za-z0-9]*(?:['’-][A-Za-z0-9]+)*")
_DIGITS = lazy(r"\d{2,}")
_ASCII_LETTER = lazy("[a-z]")
_PUNCT = lazy(r"[\W_]+", re.UNICODE)
_STOP_PHRASES = lazy("|".join(sorted(map(re.escape, ZH_PHRASE_BREAKS), key=len, reverse=True)))
# Latin words that are not content words: function words and generic wording.
_EN_SKIP = EN_STOP | EN_GENERIC
# Function characters and numerals split phrases: "创意一" gives no word "意一".
_SPLITTERS = ZH_FUNCTION_CHARS | frozenset("一二三四五六七八九十两百千万")


def _cjk_class_without(chars: Collection[str]) -> str:
    """A character class of the CJK characters of :data:`_CJK_CLASS` (U+3400–9FFF,
    U+F900–FAFF) less ``chars``."""
    ranges: list[tuple[int, int]] = []
    for low, high in ((0x3400, 0x9FFF), (0xF900, 0xFAFF)):
        start = low
        for point in sorted(ord(c) for c in chars if low <= ord(c) <= high):
            if point > start:
                ranges.append((start, point - 1))
            start = point + 1
        if start <= high:
            ranges.append((start, high))
    return "[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


# Every pair of adjacent CJK characters, neither a splitter: the two characters of a Chinese
# piece (one pattern for what splitting the text first and pairing its characters gives).
_PIECE = lazy(f"(?=({_cjk_class_without(_SPLITTERS)}{{2}}))")


_Node: TypeAlias = dict[str, "_Node"]


def _trie(words: Iterable[str]) -> str:
    """One pattern for ``words`` that matches the longest of them at a position, written as a
    trie (a regex alternation of hundreds of words tries each in turn; a trie, one per letter)."""
    root: _Node = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def branch(node: _Node) -> str:
        chars = sorted(c for c in node if c)
        if not chars:
            return ""
        alternatives = "|".join(re.escape(c) + branch(node[c]) for c in chars)
        # A longer word first: the group is greedy, so "" (the word ends here) comes last.
        if "" in node:
            return f"(?:{alternatives})?"
        return alternatives if len(chars) == 1 else f"(?:{alternatives})"

    return branch(root)


@cache
def _generic() -> re.Pattern[str]:
    """Abstract Chinese wording, the longest word at each place (see :data:`ZH_GENERIC`)."""
    return re.compile(_trie(ZH_GENERIC))


@lru_cache(maxsize=4096)
def units(text: str) -> int:
    """Content units: one per CJK character and one per Latin word or number."""
    if "\n" in text:
        # No unit spans a line break: a text's are its lines' (which the checks that read a
        # section or a paragraph of the output have then counted already).
        return sum(map(units, text.splitlines()))
    cjk = 0 if text.isascii() else sum(map(len, _CJK_RUN().findall(text)))
    return cjk + len(_WORD().findall(text))


@lru_cache(maxsize=512)
def content_tokens(text: str) -> tuple[str, ...]:
    """The content words of ``text``, in order: Latin words and two-character Chinese pieces,
    generic wording and function words left out."""
    # No word spans a line break, so the words of a text are those of its lines: Chinese pieces
    # first, then Latin words, each in order.
    chinese: list[str] = []
    latin: list[str] = []
    for line in text.lower().splitlines():
        pieces, words = _line_tokens(line)
        chinese += pieces
        latin += words
    return (*chinese, *latin)


@lru_cache(maxsize=8192)
def _line_tokens(line: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The Chinese pieces and the Latin content words of one lower-cased line."""
    if line.isascii():
        lowered, pieces = line, ()  # no Chinese, so no Chinese piece or generic wording
    else:
        lowered = _generic().sub(" ", line)
        pieces = tuple(_PIECE().findall(lowered))
    words = tuple([w for w in _LATIN_WORD().findall(lowered) if len(w) > 2 and w not in _EN_SKIP])
    return pieces, words


@lru_cache(maxsize=1024)
def content_words(text: str) -> frozenset[str]:
    """The content words of ``text``, as a set (cached: the names and instructions of a step
    are read at each of its submits)."""
    return frozenset(content_tokens(text))


def top_terms(text: str, k: int, skip: Collection[str] = ()) -> tuple[str, ...]:
    """The ``k`` content words ``text`` uses most (ties in order of first use), ``skip`` aside."""
    counts = Counter(content_tokens(text))
    for token in [t for t in skip if t in counts]:
        del counts[token]
    # A stable sort: equal counts stay in order of first use.
    return tuple(sorted(counts, key=counts.__getitem__, reverse=True)[:k])


@lru_cache(maxsize=256)
def key_terms(text: str) -> tuple[str, ...]:
    """The key terms of a target: its Latin words and its Chinese phrases.

    Question words and function words (是否, 如何, 的, 对 …) split Chinese text into phrases
    ("一家社区咖啡店是否应该推出会员订阅制" -> 社区咖啡店, 推出会员订阅制).
    """
    lowered = text.lower()
    # A possessive names its owner: "duolingo's" is looked for as "duolingo".
    words = (w.removesuffix("'s").removesuffix("’s") for w in _LATIN_WORD().findall(lowered))
    terms = [w for w in words if len(w) >= 3 and w not in EN_STOP]
    terms += _DIGITS().findall(lowered)
    terms += [r for r in _CJK_RUN().findall(_STOP_PHRASES().sub(" ", lowered)) if len(r) >= 2]
    return tuple(dict.fromkeys(terms))


_WORD_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _starts_word(lowered: str, term: str) -> bool:
    """Whether ``term`` occurs in ``lowered`` where a word starts: not after a letter or digit."""
    at = lowered.find(term)
    while at > 0 and lowered[at - 1] in _WORD_CHARS:
        at = lowered.find(term, at + 1)
    return at >= 0


def has_term(lowered: str, term: str) -> bool:
    """Whether lower-cased ``lowered`` uses ``term``.

    A Latin term counts where a word starts ("impacts" uses "impact"); a Chinese phrase counts
    when at least half of its two-character pieces appear ("会员订阅制" uses "推出会员订阅制").
    """
    if term.isascii():
        return _starts_word(lowered, term)
    if term in lowered:
        return True
    pieces = [term[i : i + 2] for i in range(len(term) - 1)]
    return sum(1 for p in pieces if p in lowered) * 2 >= len(pieces) and len(pieces) > 1


@lru_cache(maxsize=1024)
def pieces(term: str) -> tuple[str, ...]:
    """The parts of a key term that are looked for: a Latin word whole, a Chinese phrase by
    its two-character pieces."""
    if term.isascii():
        return (term,)
    return tuple(dict.fromkeys(term[i : i + 2] for i in range(len(term) - 1)))


@lru_cache(maxsize=256)
def term_pieces(text: str) -> tuple[str, ...]:
    """The two-character pieces of ``text``'s Chinese phrases and its Latin words: names to skip."""
    out: list[str] = []
    for term in key_terms(text):
        if term.isascii():
            out.append(term)
        else:
            out += [term[i : i + 2] for i in range(len(term) - 1)]
    return tuple(dict.fromkeys(out))


# What joins the parts of a Chinese focus area's name ("成本与定价", "品质、渠道", "做青的火候").
_AREA_JOINS = lazy(r"[与及的、/·\s，,]+")
_AREA_RUN = lazy(r"[\u3400-\u9fff\uf900-\ufaff]+|[a-z0-9]+")


@lru_cache(maxsize=256)
def _area(area: str) -> tuple[str, tuple[str, ...] | None, tuple[str, ...]]:
    """How a focus area is looked for: its name, the stems of a Latin name's words (``None``
    for a Chinese name) and a Chinese name's pieces."""
    name = area.lower().strip()
    if not name.isascii():
        # Its two-character words, each part on its own ("摇青与做青的火候判断": 摇青, 做青, 火候,
        # 判断; no "青的" or "候判"), a Latin word whole.
        words = [w for part in _AREA_JOINS().split(name) for w in _area_words(part)]
        return name, None, tuple(dict.fromkeys(words))
    words = [w for w in _LATIN_WORD().findall(name) if len(w) >= 3 and w not in EN_STOP]
    return name, tuple(w[: max(3, len(w) - 2)] for w in words), ()


def _area_words(part: str) -> list[str]:
    """The words of one part of a Chinese name: its Chinese runs cut into two characters (the
    last pair of an odd run overlapping the one before), its Latin words whole."""
    out: list[str] = []
    for run in _AREA_RUN().findall(part):
        if run.isascii():
            out.append(run)
        elif len(run) >= 2:
            out += [run[i : i + 2] for i in range(0, len(run) - 1, 2)]
            if len(run) % 2:
                out.append(run[-2:])
    return out


def names_area(text: str, area: str) -> bool:
    """Whether ``text`` names the focus area ``area``, case aside.

    The whole name counts, and so does most of it: at least half of a Chinese name's
    two-character words, two at least ("时间安排" names "学习时间安排"), or every word of three or more
    letters of a Latin name, by its stem ("drip rate" names "IV drip rates").
    """
    name, stems, found = _area(area)
    lowered = text.lower()
    if not name or name in lowered:
        return True
    if stems is not None:
        return bool(stems) and all(_starts_word(lowered, stem) for stem in stems)
    need = max(2, (len(found) + 1) // 2)
    return len(found) > 1 and sum(1 for p in found if p in lowered) >= need


def shingles(text: str) -> frozenset[str]:
    """Overlapping character pairs (CJK) and word pairs (Latin) of ``text``: its fingerprint."""
    lowered = text.lower()
    out = frozenset() if lowered.isascii() else frozenset(_CJK_PAIR().findall(lowered))
    if not _ASCII_LETTER().search(lowered):
        return out  # no Latin word
    words = [w for w in _LATIN_WORD().findall(lowered) if w not in EN_STOP]
    return out.union(map(" ".join, itertools.pairwise(words)))


def containment(mine: frozenset[str], other: frozenset[str], ignore: Iterable[str] = ()) -> float:
    """The share of ``mine`` also in ``other`` (fingerprints), ``ignore`` left out of both."""
    own = mine - frozenset(ignore)
    if not own:
        return 0.0
    return len(own & other) / len(own)


def comparable(sentence: str) -> str:
    """A sentence's form for spotting repeats: lower-case, no punctuation or spaces."""
    return _PUNCT().sub("", sentence.lower())
