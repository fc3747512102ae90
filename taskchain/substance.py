"""Reading substance: sentences, specific content, filler, key terms, passages and overlap."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from taskchain.lexicon import EN_STOP, EXAMPLE_MARKERS
from taskchain.structure import title_lines
from taskchain.text import lazy
from taskchain.words import (
    comparable,
    containment,
    content_tokens,
    content_words,
    has_term,
    key_terms,
    names_area,
    pieces,
    shingles,
    term_pieces,
    top_terms,
    units,
)

_CJK = lazy(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN = lazy(r"[\u3400-\u9fff\uf900-\ufaff]+")
# What a unit starts with: a CJK character, a Latin letter or a digit (see ``units``).
_UNIT = lazy(r"[\u3400-\u9fff\uf900-\ufaffA-Za-z\d]")
_LATIN_WORD = lazy(r"[A-Za-z][A-Za-z0-9]*(?:['’-][A-Za-z0-9]+)*")
_SPLIT = lazy(r"(?<=[。！？!?；;])|(?<=[.])\s+(?=[A-Z0-9\"“(])|\n")
_MARKER = lazy(
    r"^\s*(?:>\s*)?(?:[-*+](?=\s)|[•·▪●○◦]|\d{1,3}[.)、．]|[（(]\d{1,3}[)）]|[①-⑳]|"
    r"[一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十]{1,3}[)）])\s*"
)
_LABEL_CHARS = 40  # a line ending in a colon this short is a label
_TABLE_RULE = lazy(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_FENCE = lazy(r"^\s*(```|~~~)")
_DIGIT = lazy(r"\d")
_FIGURES = lazy(r"\d+(?:[.,:/]\d+)*")
_ZH_FIGURE = lazy(
    r"(?:[两三四五六七八九十百千万半几]+|一(?=[杯周年月天日元倍成期季层轮小]))"
    r"[个种类项条次年月周天日小时分钟元块杯份人家位名层步倍成期季轮]"
)
_QUOTED = lazy(r"[「“《『\"][^」”》』\"]{1,40}[」”》』\"]")
_CODE_OR_LINK = lazy(r"```.*?```|`[^`]*`|https?://\S+", re.S)


def _fence(line: str) -> bool:
    """Whether ``line`` opens or closes a code block."""
    return ("```" in line or "~~~" in line) and _FENCE().match(line) is not None


def _table_rule(line: str) -> bool:
    """Whether ``line`` is a table's rule (``|---|---|``)."""
    return "--" in line and _TABLE_RULE().match(line) is not None


@lru_cache(maxsize=256)
def sentences(text: str) -> tuple[str, ...]:
    """The sentences of ``text``: list markers dropped, headings and code left out.

    A table row is one sentence (its cells joined); so is a list item that ends without a stop.
    """
    titles = title_lines(text)
    marker, split, unit = _MARKER(), _SPLIT(), _UNIT()
    out: list[str] = []
    fenced = False
    for i, line in enumerate(text.splitlines()):
        if _fence(line):
            fenced = not fenced
            continue
        if fenced or i in titles or not line.strip() or _table_rule(line):
            continue
        if line.lstrip().startswith("|"):
            out.append(
                "，".join(c.strip() for c in line.strip().strip("|").split("|") if c.strip())
            )
            continue
        line = marker.sub("", line).replace("**", "").replace("__", "")
        out += [s.strip() for s in split.split(line) if unit.search(s)]
    return tuple(out)


_EN_NUMBER = lazy(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"forty|fifty|sixty|hundred|thousand|million|half|dozen|once|twice)\b",
    re.IGNORECASE,
)


def has_figure(text: str) -> bool:
    """Whether ``text`` states a figure: digits, or a number in words with its unit."""
    bare = _MARKER().sub("", text)
    return bool(_DIGIT().search(bare) or _ZH_FIGURE().search(bare) or _EN_NUMBER().search(bare))


@lru_cache(maxsize=4096)
def concrete(sentence: str, known: frozenset[str] = frozenset()) -> bool:
    """Whether ``sentence`` carries a figure, a name or an example (``known`` words aside).

    Cached: the filler and concreteness checks ask it of the same sentences."""
    if _DIGIT().search(sentence) or _QUOTED().search(sentence):
        return True
    chinese = not sentence.isascii() and _CJK().search(sentence) is not None
    if chinese and _ZH_FIGURE().search(sentence):
        return True
    lowered = sentence.lower()
    if any(marker in lowered for marker in EXAMPLE_MARKERS):
        return True
    found = _LATIN_WORD().findall(sentence)
    words = [w for w in found if w.lower() not in known]
    if chinese:
        # A Latin word inside Chinese text is a name or a term of art ("SaaS", "Python").
        return any(len(w) >= 2 and w.lower() not in EN_STOP for w in words)
    # A capitalised word past the first is a name ("Starbucks", "Berlin").
    first = found[:1]
    return any(w[0].isupper() and w.lower() not in EN_STOP for w in words if [w] != first)


_FULL_STOP = lazy(r"(?<=[。！？!?])|(?<=[.])\s+(?=[A-Z0-9\"“(])|\n")


def full_sentences(text: str) -> tuple[str, ...]:
    """``text`` split at full stops only (not at semicolons), markers and emphasis dropped."""
    flat = _MARKER().sub("", text.replace("**", "").replace("__", ""))
    return tuple(s.strip() for s in _FULL_STOP().split(flat) if _UNIT().search(s))


def item_chunks(text: str) -> list[str]:
    """``text`` cut where list items start: each item (with its indented lines) is one chunk,
    and so is each stretch of running text between them."""
    chunks: list[list[str]] = []
    for line in text.splitlines():
        starts_item = bool(_MARKER().match(line)) and not line[:1].isspace()
        if starts_item or not chunks or (is_item(chunks[-1][0]) and not line[:1].isspace()):
            chunks.append([line])
        else:
            chunks[-1].append(line)
    return ["\n".join(c) for c in chunks if "".join(c).strip()]


def is_item(text: str) -> bool:
    """Whether ``text`` is a list item or a table row."""
    return bool(_MARKER().match(text)) or text.lstrip().startswith("|")


def specific(text: str, known: frozenset[str]) -> int:
    """How many content words of ``text`` are not in ``known`` (names, the step's own wording),
    figures included."""
    marker = _MARKER()
    bare = "\n".join(marker.sub("", line) for line in text.splitlines())
    figures = len(set(_FIGURES().findall(bare)))
    return figures + _new_words(text, known)


def _new_words(text: str, known: frozenset[str]) -> int:
    """How many content words of ``text`` are not in ``known``."""
    return sum(1 for token in content_tokens(text) if token not in known)


def is_filler(sentence: str, known: frozenset[str], min_units: int) -> bool:
    """A sentence with fewer than ``min_units`` specific words and nothing concrete."""
    # Nothing concrete, so no digit: its specific words are its new words, without figures.
    return not concrete(sentence, known) and _new_words(sentence, known) < min_units


@lru_cache(maxsize=256)
def passages(text: str) -> tuple[tuple[str, str], ...]:
    """Self-contained stretches of ``text`` as ``(heading, text)`` pairs.

    Each paragraph, list item (with its sub-items) and table row is a passage with an empty
    heading; a paragraph that ends in a colon ("成本方面：") takes the list that follows it, and
    a label alone on its line ("成本：") the list or paragraph that follows it. The
    block under each heading line (Markdown, bold, 【label】, Chinese numbered) is a passage too,
    with that line as its heading.
    """
    lines = text.splitlines()
    titles = title_lines(text)
    marker = _MARKER()
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
        is_item = bool(marker.match(line)) or stripped.startswith("|")
        nested = line[:1].isspace() and bool(current)
        # A label alone on its line ("成本：", "Cost:") takes the paragraph below it as well.
        label = lead_in and len(current) == 1 and len(current[0].strip()) <= _LABEL_CHARS
        if (is_item and not nested and not lead_in) or (
            lead_in and not is_item and not nested and not label
        ):
            flush()
        current.append(line)
        if label and not is_item:
            lead_in = False  # the paragraph ends at the next blank line
        elif not is_item and stripped.endswith((":", "：")):
            lead_in = True
    flush()
    if heading:
        blocks.append((heading, "\n".join(block)))
    return tuple([("", p) for p in small if p.strip()] + blocks)


@lru_cache(maxsize=256)
def table_columns(text: str) -> tuple[str, ...]:
    """Each column of each table in ``text`` below its header row, as one line: the header and
    the column's cells ("成本：199 元月费只够覆盖原料；每杯原料约 7 元"). A table with one column per
    focus area says what it says of each area down its column."""
    columns: list[str] = []
    lines = text.splitlines()
    for i in range(len(lines) - 1):
        if not lines[i].lstrip().startswith("|") or not _table_rule(lines[i + 1]):
            continue
        header = _cells(lines[i])
        rows = []
        for line in lines[i + 2 :]:
            if not line.lstrip().startswith("|"):
                break
            rows.append(_cells(line))
        for j, name in enumerate(header):
            said = [row[j] for row in rows if j < len(row) and row[j]]
            if name and said:
                columns.append(f"{name}：{'；'.join(said)}")
    return tuple(columns)


def _cells(row: str) -> list[str]:
    """A table row's cells, stripped."""
    return [c.strip() for c in row.strip().strip("|").split("|")]


def language_share(text: str, language: str, ignore: Sequence[str] = ()) -> float:
    """The share of ``text``'s units written in ``language`` (quotes, code and ``ignore`` aside)."""
    for phrase in ignore:
        if phrase:
            text = text.replace(phrase, " ")
    text = _QUOTED().sub(" ", _CODE_OR_LINK().sub(" ", text))
    cjk = sum(map(len, _CJK_RUN().findall(text)))
    latin = len(_LATIN_WORD().findall(text))
    total = cjk + latin
    if total == 0:
        return 1.0
    return (latin if language == "en" else cjk) / total


__all__ = [
    "comparable",
    "concrete",
    "containment",
    "content_tokens",
    "content_words",
    "full_sentences",
    "has_figure",
    "has_term",
    "is_filler",
    "is_item",
    "item_chunks",
    "key_terms",
    "language_share",
    "names_area",
    "passages",
    "pieces",
    "sentences",
    "shingles",
    "specific",
    "term_pieces",
    "top_terms",
    "units",
]
