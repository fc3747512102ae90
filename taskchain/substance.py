"""Reading substance: sentences, specific content, filler, key terms, passages and overlap."""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache

from taskchain.lexicon import (
    EN_GENERIC,
    EN_STOP,
    EXAMPLE_MARKERS,
    ZH_FUNCTION_CHARS,
    ZH_GENERIC,
)
from taskchain.structure import title_lines

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['’-][A-Za-z0-9]+)*|\d+(?:[.,]\d+)*")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['’-][A-Za-z0-9]+)*")
_SPLIT = re.compile(r"(?<=[。！？!?；;])|(?<=[.])\s+(?=[A-Z0-9\"“(])|\n")
_MARKER = re.compile(
    r"^\s*(?:>\s*)?(?:[-*+•·▪●○◦]|\d{1,3}[.)、．]|[（(]\d{1,3}[)）]|[①-⑳]|"
    r"[一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十]{1,3}[)）])\s*"
)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_DIGIT = re.compile(r"\d")
_ZH_FIGURE = re.compile(
    r"(?:[两三四五六七八九十百千万半几]+|一(?=[杯周年月天日元倍成期季层轮小]))"
    r"[个种类项条次年月周天日小时分钟元块杯份人家位名层步倍成期季轮]"
)
_QUOTED = re.compile(r"[「“《『\"][^」”》』\"]{1,40}[」”》』\"]")
_ZH_GENERIC_RE = re.compile("|".join(sorted(map(re.escape, ZH_GENERIC), key=len, reverse=True)))
_ZH_STOP_PHRASES = re.compile(
    "|".join(
        sorted(
            map(
                re.escape,
                [
                    "是否",
                    "应该",
                    "应当",
                    "如何",
                    "怎样",
                    "怎么",
                    "为什么",
                    "什么",
                    "哪些",
                    "一家",
                    "一个",
                    "一种",
                    "一位",
                    "一款",
                    "一门",
                    "我们",
                    "以及",
                    "关于",
                    "进行",
                    "能否",
                    "可否",
                    "要不要",
                    "该不该",
                    "的",
                    "对",
                    "与",
                    "和",
                    "及",
                    "在",
                    "了",
                    "把",
                    "为",
                    "被",
                    "从",
                    "向",
                    "或",
                    "并",
                    "而",
                    "以",
                    "于",
                    "之",
                    "其",
                    "中",
                    "让",
                    "给",
                    "用",
                    "做",
                ],
            ),
            key=len,
            reverse=True,
        )
    )
)
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
_SPLITTERS = ZH_FUNCTION_CHARS | frozenset("一二三四五六七八九十两百千万")


def units(text: str) -> int:
    """Content units: one per CJK character and one per Latin word or number."""
    return len(_CJK.findall(text)) + len(_WORD.findall(text))


@lru_cache(maxsize=256)
def sentences(text: str) -> tuple[str, ...]:
    """The sentences of ``text``: list markers dropped, headings and code left out.

    A table row is one sentence (its cells joined); so is a list item that ends without a stop.
    """
    titles = title_lines(text)
    out: list[str] = []
    fenced = False
    for i, line in enumerate(text.splitlines()):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced or i in titles or _TABLE_RULE.match(line) or not line.strip():
            continue
        if line.lstrip().startswith("|"):
            out.append(
                "，".join(c.strip() for c in line.strip().strip("|").split("|") if c.strip())
            )
            continue
        line = _MARKER.sub("", line).replace("**", "").replace("__", "")
        out.extend(s.strip() for s in _SPLIT.split(line) if units(s) > 0)
    return tuple(out)


_EN_NUMBER = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|hundred|thousand|million|half|dozen|once|twice)\b",
    re.IGNORECASE,
)


def has_figure(text: str) -> bool:
    """Whether ``text`` states a figure: digits, or a number in words with its unit."""
    bare = _MARKER.sub("", text)
    return bool(_DIGIT.search(bare) or _ZH_FIGURE.search(bare) or _EN_NUMBER.search(bare))


def concrete(sentence: str, known: frozenset[str] = frozenset()) -> bool:
    """Whether ``sentence`` carries a figure, a name or an example (``known`` words aside)."""
    if _DIGIT.search(sentence) or _ZH_FIGURE.search(sentence) or _QUOTED.search(sentence):
        return True
    lowered = sentence.lower()
    if any(marker in lowered for marker in EXAMPLE_MARKERS):
        return True
    words = [w for w in _LATIN_WORD.findall(sentence) if w.lower() not in known]
    if _CJK.search(sentence):
        # A Latin word inside Chinese text is a name or a term of art ("SaaS", "Python").
        return any(len(w) >= 2 and w.lower() not in EN_STOP for w in words)
    # A capitalised word past the first is a name ("Starbucks", "Berlin").
    first = _LATIN_WORD.findall(sentence)[:1]
    return any(w[0].isupper() and w.lower() not in EN_STOP for w in words if [w] != first)


_FULL_STOP = re.compile(r"(?<=[。！？!?])|(?<=[.])\s+(?=[A-Z0-9\"“(])|\n")


def full_sentences(text: str) -> tuple[str, ...]:
    """``text`` split at full stops only (not at semicolons), markers and emphasis dropped."""
    flat = _MARKER.sub("", text.replace("**", "").replace("__", ""))
    return tuple(s.strip() for s in _FULL_STOP.split(flat) if units(s) > 0)


def item_chunks(text: str) -> list[str]:
    """``text`` cut where list items start: each item (with its indented lines) is one chunk,
    and so is each stretch of running text between them."""
    chunks: list[list[str]] = []
    for line in text.splitlines():
        starts_item = bool(_MARKER.match(line)) and not line[:1].isspace()
        if starts_item or not chunks or (is_item(chunks[-1][0]) and not line[:1].isspace()):
            chunks.append([line])
        else:
            chunks[-1].append(line)
    return ["\n".join(c) for c in chunks if "".join(c).strip()]


def is_item(text: str) -> bool:
    """Whether ``text`` is a list item or a table row."""
    return bool(_MARKER.match(text)) or text.lstrip().startswith("|")


def specific(text: str, known: frozenset[str]) -> int:
    """How many content words of ``text`` are not in ``known`` (names, the step's own wording),
    figures included."""
    bare = "\n".join(_MARKER.sub("", line) for line in text.splitlines())
    figures = len(set(re.findall(r"\d+(?:[.,:/]\d+)*", bare)))
    return figures + sum(1 for token in content_tokens(text) if token not in known)


def is_filler(sentence: str, known: frozenset[str], min_units: int) -> bool:
    """A sentence with fewer than ``min_units`` specific words and nothing concrete."""
    return not concrete(sentence, known) and specific(sentence, known) < min_units


@lru_cache(maxsize=256)
def key_terms(text: str) -> tuple[str, ...]:
    """The key terms of a target: its Latin words and its Chinese phrases.

    Question words and function words (是否, 如何, 的, 对 …) split Chinese text into phrases
    ("一家社区咖啡店是否应该推出会员订阅制" -> 社区咖啡店, 推出会员订阅制).
    """
    lowered = text.lower()
    terms: list[str] = [w for w in _LATIN_WORD.findall(lowered) if len(w) >= 3 and w not in EN_STOP]
    terms += re.findall(r"\d{2,}", lowered)
    terms += [run for run in _CJK_RUN.findall(_ZH_STOP_PHRASES.sub(" ", lowered)) if len(run) >= 2]
    return tuple(dict.fromkeys(terms))


def has_term(lowered: str, term: str) -> bool:
    """Whether lower-cased ``lowered`` uses ``term``.

    A Latin term counts where a word starts ("impacts" uses "impact"); a Chinese phrase counts
    when at least half of its two-character pieces appear ("会员订阅制" uses "推出会员订阅制").
    """
    if term.isascii():
        return re.search(rf"(?<![a-z0-9]){re.escape(term)}", lowered) is not None
    if term in lowered:
        return True
    pieces = [term[i : i + 2] for i in range(len(term) - 1)]
    return sum(1 for p in pieces if p in lowered) * 2 >= len(pieces) and len(pieces) > 1


def pieces(term: str) -> tuple[str, ...]:
    """The parts of a key term that are looked for: a Latin word whole, a Chinese phrase by
    its two-character pieces."""
    if term.isascii():
        return (term,)
    return tuple(dict.fromkeys(term[i : i + 2] for i in range(len(term) - 1)))


def term_pieces(text: str) -> tuple[str, ...]:
    """The two-character pieces of ``text``'s Chinese phrases and its Latin words: names to skip."""
    out: list[str] = []
    for term in key_terms(text):
        if term.isascii():
            out.append(term)
        else:
            out += [term[i : i + 2] for i in range(len(term) - 1)]
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=256)
def passages(text: str) -> tuple[tuple[str, str], ...]:
    """Self-contained stretches of ``text`` as ``(heading, text)`` pairs.

    Each paragraph, list item (with its sub-items) and table row is a passage with an empty
    heading; a paragraph that ends in a colon ("成本方面：") takes the list that follows it. The
    block under each heading line (Markdown, bold, 【label】, Chinese numbered) is a passage too,
    with that line as its heading.
    """
    lines = text.splitlines()
    titles = title_lines(text)
    small: list[str] = []
    blocks: list[tuple[str, str]] = []
    current: list[str] = []
    lead_in = False
    heading, block = "", list[str]()

    def flush() -> None:
        nonlocal lead_in
        if current:
            small.append("\n".join(current))
            current.clear()
        lead_in = False

    for i, line in enumerate(lines):
        if i in titles:
            flush()
            if heading:
                blocks.append((heading, "\n".join(block)))
            heading, block = line.strip(), []
            continue
        block.append(line)
        stripped = line.strip()
        if not stripped:
            if not lead_in:
                flush()
            continue
        is_item = bool(_MARKER.match(line)) or stripped.startswith("|")
        nested = line[:1].isspace() and bool(current)
        if (is_item and not nested and not lead_in) or (lead_in and not is_item and not nested):
            flush()
        current.append(line)
        if not is_item and stripped.endswith((":", "：")):
            lead_in = True
    flush()
    if heading:
        blocks.append((heading, "\n".join(block)))
    return tuple([("", p) for p in small if p.strip()] + blocks)


@lru_cache(maxsize=512)
def content_tokens(text: str) -> tuple[str, ...]:
    """The content words of ``text``, in order: Latin words and two-character Chinese pieces,
    generic wording and function words left out."""
    lowered = _ZH_GENERIC_RE.sub(" ", text.lower())
    out: list[str] = []
    for run in _CJK_RUN.findall(lowered):
        # Function characters and numerals split phrases: "创意一" gives no word "意一".
        for segment in "".join(" " if c in _SPLITTERS else c for c in run).split():
            out += [segment[i : i + 2] for i in range(len(segment) - 1)]
    out += [
        w
        for w in _LATIN_WORD.findall(lowered)
        if len(w) > 2 and w not in EN_STOP and w not in EN_GENERIC
    ]
    return tuple(out)


def top_terms(text: str, k: int, skip: Collection[str] = ()) -> tuple[str, ...]:
    """The ``k`` content words ``text`` uses most (ties in order of first use), ``skip`` aside."""
    counts: dict[str, int] = {}
    for token in content_tokens(text):
        if token not in skip:
            counts[token] = counts.get(token, 0) + 1
    return tuple(sorted(counts, key=lambda t: -counts[t])[:k])


def names_area(text: str, area: str) -> bool:
    """Whether ``text`` names the focus area ``area``, case aside.

    The whole name counts, and so does most of it: at least half of a Chinese name's
    two-character pieces ("时间安排" names "学习时间安排"), or every word of three or more
    letters of a Latin name, by its stem ("drip rate" names "IV drip rates").
    """
    lowered, name = text.lower(), area.lower().strip()
    if not name or name in lowered:
        return True
    if name.isascii():
        words = [w for w in _LATIN_WORD.findall(name) if len(w) >= 3 and w not in EN_STOP]
        return bool(words) and all(
            re.search(rf"(?<![a-z0-9]){re.escape(w[: max(3, len(w) - 2)])}", lowered) for w in words
        )
    found = pieces(name)
    return len(found) > 1 and sum(1 for p in found if p in lowered) * 2 >= len(found)


@lru_cache(maxsize=512)
def shingles(text: str) -> frozenset[str]:
    """Overlapping character pairs (CJK) and word pairs (Latin) of ``text``: its fingerprint."""
    lowered = text.lower()
    out: set[str] = set()
    for run in _CJK_RUN.findall(lowered):
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    words = [w for w in _LATIN_WORD.findall(lowered) if w not in EN_STOP]
    out.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return frozenset(out)


def containment(mine: frozenset[str], other: frozenset[str], ignore: Iterable[str] = ()) -> float:
    """The share of ``mine`` also in ``other`` (fingerprints), ``ignore`` left out of both."""
    skip = frozenset(ignore)
    own = mine - skip
    if not own:
        return 0.0
    return len(own & other) / len(own)


def comparable(sentence: str) -> str:
    """A sentence's form for spotting repeats: lower-case, no punctuation or spaces."""
    return _PUNCT.sub("", sentence.lower())


def language_share(text: str, language: str, ignore: Sequence[str] = ()) -> float:
    """The share of ``text``'s units written in ``language`` (quotes, code and ``ignore`` aside)."""
    for phrase in ignore:
        if phrase:
            text = text.replace(phrase, " ")
    text = _QUOTED.sub(" ", re.sub(r"```.*?```|`[^`]*`|https?://\S+", " ", text, flags=re.S))
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN_WORD.findall(text))
    total = cjk + latin
    if total == 0:
        return 1.0
    return (latin if language == "en" else cjk) / total
