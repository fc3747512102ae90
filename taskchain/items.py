"""Reading the items in a section's body, however people enumerate them: lists, table rows,
sub-labels, ordinal words and parallel sentences in prose, or paragraphs."""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

from taskchain.structure import TABLE_ROW, TABLE_RULE
from taskchain.text import lazy, measure

_LIST = lazy(
    r"^(?P<indent>\s*)(?:[-*+](?=\s)|[•·▪●○◦]|\d{1,3}[.)、．]|[（(]\d{1,3}[)）]|[①-⑳]|"
    r"[一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十]{1,3}[)）]|[a-zA-Z][.)])\s*(?P<text>\S.*)$"
)
# A list entry that only labels the group of items below it: "**Must**", "Nice to have:"; and
# an item that is a detail ("材料：…", "Cost: …").
_GROUP_LABEL = lazy(
    r"^(?:\*\*[^*:：\d\n]{1,16}\*\*\s*[:：]?|\*\*[^*:：\d\n]{1,16}[:：]\*\*|[^*:：\d\n]{1,16}[:：])$"
)
_ATTRIBUTE = lazy(r"^(?:\*\*)?[^*:：\n]{1,12}(?:\*\*)?\s*[:：]\s*\S")
# A number that opens a point inside running text: "1) ", "(1)", "（1）", "1）", "①".
_INLINE_NUMBER = lazy(
    r"(?:^|(?<=[\s：:，,；;。.！？!?]))(?P<mark>[(（]?(?P<n>[1-9])[)）]|(?P<c>[①-⑨]))"
)
_CIRCLED = lazy(r"[①-⑨]")
_SUBLABEL = lazy(r"^\s*(?:\*\*[^*\n]{1,60}\*\*|【[^】]{1,60}】|#{1,6}\s+\S.*)")
# Ordinals that enumerate points inside prose: 一是/其一/第一, 首先/其次/再次/最后, first/second…
_ZH_ORDINALS = (
    ("一是", "二是", "三是", "四是", "五是", "六是"),
    ("其一", "其二", "其三", "其四", "其五"),
    ("第一，", "第二，", "第三，", "第四，", "第五，"),
    ("第一、", "第二、", "第三、", "第四、", "第五、"),
    ("第一个", "第二个", "第三个", "第四个", "第五个"),
    ("第一点", "第二点", "第三点", "第四点", "第五点"),
    ("第一类", "第二类", "第三类", "第四类", "第五类"),
    ("第一条", "第二条", "第三条", "第四条", "第五条"),
    ("首先", "其次", "再次", "最后"),
)
_EN_ORDINALS = lazy(
    r"(?:^|(?<=[.;:!?]\s)|(?<=,\s)|(?<=\band\s))(?:the\s+)?(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|fourth(?:ly)?|"
    r"fifth(?:ly)?|finally|lastly)\b(?!-)",
    re.IGNORECASE,
)
# Sentences that follow on from the one before as a further point ("It will also …", "Finally,
# …", "此外，…", "最后，…"): two of them make a paragraph an enumeration, one point a sentence.
_FOLLOW_ON = lazy(
    r"^(?:(?:\S+\s+){0,3}also\b|(?:in addition|additionally|moreover|furthermore|besides|"
    r"another|finally|lastly)\b|(?:此外|另外|同时|再者|而且|还有|最后)|.{0,6}?(?:也|还)(?:要|应|需|会|能))",
    re.IGNORECASE,
)
# A first sentence announcing how many points follow ("Two misconceptions trip beginners up.",
# "常见误解有两个。"): as many sentences after it are the points.
_ANNOUNCED_EN = lazy(r"\b(two|three|four|five|six|seven|eight|nine|[2-9])\b", re.IGNORECASE)
_ANNOUNCED_ZH = lazy(r"([两二三四五六七八九2-9])\s*(?:个|点|条|类|种|项|大|件|处|方面|步)")
_COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9} | {str(i): i for i in range(2, 10)}  # fmt: skip
_LEAD_IN_UNITS = 12  # an announcing sentence is this short
# The number in a sentence's opening ("Stage 1", "第一阶段"): sentences that open alike but for it
# are parallel.
_NUMBER_WORD = lazy(
    r"\d+|[一二三四五六七八九十]+|\b(?:one|two|three|four|five|six|seven|eight|nine|ten)\b"
)
# Where a paragraph's sentences end (read with its whitespace collapsed to single spaces).
_SENTENCE_END = lazy(r"(?<=[。！？!?])|(?<=\.)\s+(?=\S)")
_BLANK_LINE = lazy(r"\n\s*\n")
_CLAUSE_SPLIT = lazy(r"[；;]")
_MIN_ITEM_UNITS = 2
_PARAGRAPH_UNITS = 15


@lru_cache(maxsize=1024)
def items(body: str) -> tuple[str, ...]:
    """The separate items in a section's ``body``, however they are written.

    List items at the outermost level (bullets, ``1.`` ``1)`` ``①`` ``(1)`` ``一、``), table rows
    below the header, sub-headings and bold sub-labels, and enumerations in prose (一是……二是……,
    首先……其次……, first… second…, clauses separated by semicolons) are each read; the reading
    that finds the most items is used. Items need at least two content units.
    """
    readings = [
        _list_items(body),
        _table_rows(body),
        _sublabels(body),
        _prose_points(body),
        _paragraphs(body),
    ]
    best = max(readings, key=len)
    return tuple(i for i in best if measure(i) >= _MIN_ITEM_UNITS)


def list_item(line: str) -> str | None:
    """The text of ``line`` when it is a list item (its marker dropped), else ``None``.

    A line that opens with emphasis (``**Fee cap:** …``) is not a ``*`` bullet: it keeps its
    marks. (:func:`items` counts such lines either way, as list items or as bold sub-labels.)
    """
    if line.lstrip().startswith(("**", "__")):
        return None
    match = _LIST().match(line)
    return match.group("text").strip() if match else None


def ordinal_starts(paragraph: str) -> list[int]:
    """Where the points of a ``paragraph`` that enumerates them with ordinal words or numbers
    begin (一是……二是……, 首先……其次……, first… second…, "1) … 2) …", "（1）…（2）…", "①…②…"):
    at least two, else none.

    The paragraph is read with its whitespace collapsed; the positions are in that text.
    """
    flat = " ".join(paragraph.split())
    best: list[int] = []
    zh_series = () if flat.isascii() else _ZH_ORDINALS  # ASCII text holds no Chinese ordinal
    for series in zh_series:
        found = [p for p in map(flat.find, series) if p >= 0]
        if len(found) >= 2:
            best = max(best, sorted(found), key=len)
    if _may_hold_en_ordinal(flat):
        en = [m.start() for m in _EN_ORDINALS().finditer(flat)]
        if len(en) >= 2:
            best = max(best, en, key=len)
    return max(best, _numbered_inline(flat), key=len)


def _numbered_inline(flat: str) -> list[int]:
    """Where "1) … 2) …" (or "（1）", "1）", "①") points begin inside running text: numbers from
    1 on, each the next, at least two."""
    if ")" not in flat and "）" not in flat and not _CIRCLED().search(flat):
        return []
    starts: list[int] = []
    for match in _INLINE_NUMBER().finditer(flat):
        digit = match.group("n") or str("①②③④⑤⑥⑦⑧⑨".index(match.group("c")) + 1)
        if int(digit) == len(starts) + 1:
            starts.append(match.start("mark"))
    return starts if len(starts) >= 2 else []


# The words of :data:`_EN_ORDINALS`, and the letters besides ASCII ones its case-blind matching
# reads as their i and s (ı, İ, ſ): a text without either holds no English ordinal.
_EN_ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth", "finally", "lastly")
_CASE_BLIND_I_S = ("ı", "İ", "ſ")


def _may_hold_en_ordinal(text: str) -> bool:
    """Whether ``text`` may hold an English ordinal (a quick test before the pattern's)."""
    lowered = text.lower()
    return any(w in lowered for w in _EN_ORDINAL_WORDS) or any(c in text for c in _CASE_BLIND_I_S)


def opens_enumeration(text: str) -> bool:
    """Whether ``text`` opens with the first of a series of ordinals (一是, 其一, 第一，, 首先,
    First, The first …): the first point of an enumeration written as paragraphs."""
    text = text.lstrip()
    if any(text.startswith(series[0]) for series in _ZH_ORDINALS):
        return True
    match = _EN_ORDINALS().match(text)
    return match is not None and "first" in match.group().lower()


def _list_items(body: str) -> list[str]:
    """Top-level list items (deeper ones belong to the item above them); the items of a group
    whose top-level entry is only its label ("- **Must**", "- Should:") are its sub-items."""
    found = [
        (len(m.group("indent").expandtabs(4)), m.group("text").strip())
        for m in (_LIST().match(line) for line in body.splitlines())
        if m
    ]
    if not found:
        return []
    outer = min(indent for indent, _ in found)
    out: list[str] = []
    for i, (indent, text) in enumerate(found):
        if indent > outer + 1:
            continue
        group = list(itertools.takewhile(lambda f: f[0] > outer + 1, found[i + 1 :]))
        inner = min((d for d, _ in group), default=0)
        members = [t for d, t in group if d <= inner + 1]
        # Not a stage with its details ("**阶段一：执笔**" over "内容：…", "材料：…").
        details = sum(1 for t in members if _ATTRIBUTE().match(t)) * 2 > len(members)
        if members and _GROUP_LABEL().match(text) and not details:
            out.extend(members)
        else:
            out.append(text)
    return out


def _table_rows(body: str) -> list[str]:
    """The rows of the tables in ``body``, header rows left out."""
    lines = body.splitlines()
    rows: list[str] = []
    for i, line in enumerate(lines):
        if "|" not in line or not TABLE_ROW().match(line) or TABLE_RULE().match(line):
            continue
        is_header = i + 1 < len(lines) and bool(TABLE_RULE().match(lines[i + 1]))
        if not is_header:
            rows.append(" ".join(c.strip() for c in line.strip().strip("|").split("|")))
    return rows


def _sublabels(body: str) -> list[str]:
    """Sub-headings, bold sub-labels and 【labels】 opening lines inside the section."""
    return [line.strip().strip("#*【】 ") for line in body.splitlines() if _SUBLABEL().match(line)]


def _prose_points(body: str) -> list[str]:
    """Points enumerated inside paragraphs: ordinal words, semicolon-separated clauses, sentences
    that open alike, or sentences that follow on ("also", "finally", 此外, 最后)."""
    best: list[str] = []
    for paragraph in _BLANK_LINE().split(body):
        flat = " ".join(paragraph.split())
        starts = ordinal_starts(flat)
        if starts:
            best = max(best, _cut(flat, starts), key=len)
        parts = _CLAUSE_SPLIT().split(flat)
        clauses = [c.strip() for c in parts if measure(c) >= 4] if len(parts) >= 3 else []
        if len(clauses) >= 3:
            best = max(best, clauses, key=len)
        sentences = [s.strip() for s in _SENTENCE_END().split(flat)]
        if len(sentences) < 2:
            continue  # one sentence is no list of sentences
        best = max(best, _parallel(sentences), key=len)
        best = max(best, _follow_ons(sentences), key=len)
        best = max(best, _announced(sentences), key=len)
    return best


def _announced(sentences: list[str]) -> list[str]:
    """The points of a paragraph (its ``sentences``) whose short first sentence says how many
    follow ("Four habits matter most. Keep … Predict … Trust … Turn back …"): that many, when
    as many sentences follow (the last point keeps any sentences beyond)."""
    said = [s for s in sentences if measure(s) >= 2]
    if len(said) < 3 or measure(said[0]) > _LEAD_IN_UNITS:
        return []
    match = _ANNOUNCED_EN().search(said[0]) or _ANNOUNCED_ZH().search(said[0])
    n = _COUNTS.get(match.group(1).lower(), 0) if match else 0
    rest = said[1:]
    if n < 2 or len(rest) < n:
        return []
    return [*rest[: n - 1], " ".join(rest[n - 1 :])]


def _follow_ons(sentences: list[str]) -> list[str]:
    """The ``sentences`` of a paragraph that lists its points as sentences following on from
    each other ("A good answer rests on … It will also … Finally, …"; "……。此外，……。最后，……"):
    at least two follow-ons make it a list, and then each sentence is a point."""
    said = [s for s in sentences if measure(s) >= 4]
    follow_ons = sum(1 for s in said[1:] if _FOLLOW_ON().match(s))
    return said if follow_ons >= 2 else []


def _parallel(sentences: list[str]) -> list[str]:
    """The ``sentences`` of a paragraph that open the same way ("He should … He should …",
    "学员能…… 学员能……"): a list written as prose, one point per sentence."""
    said = [s for s in sentences if measure(s) >= 4]
    groups: dict[str, list[str]] = {}
    for sentence in said:
        bare = _NUMBER_WORD().sub("#", sentence.lower())
        opening = " ".join(bare.split()[:2]) if sentence.isascii() else bare[:2]
        groups.setdefault(opening, []).append(sentence)
    largest = max(groups.values(), key=len, default=[])
    return largest if len(largest) >= 2 else []


def _paragraphs(body: str) -> list[str]:
    """Paragraphs of running text, each of at least ``_PARAGRAPH_UNITS`` units: one point each.

    Lead-in lines ("按优先级排列：") and paragraphs that are lists or tables are not points.
    """
    out = []
    for paragraph in _BLANK_LINE().split(body):
        text = paragraph.strip()
        if not text or _LIST().match(text) or text.startswith(("|", "#")):
            continue
        if text.endswith((":", "：")) or measure(text) < _PARAGRAPH_UNITS:
            continue
        out.append(" ".join(text.split()))
    return out


def _cut(text: str, starts: list[int]) -> list[str]:
    """``text`` cut at ``starts``: one piece per enumerated point."""
    ends = [*starts[1:], len(text)]
    return [text[s:e].strip() for s, e in zip(starts, ends, strict=True)]
