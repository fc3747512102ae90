"""Reading an output's structure as people write it: required sections and the items in them.

A section starts at a line that *names* a required section, in any of the ways people title
things: a Markdown heading, a ``**bold**`` line, a ``【label】``, a Chinese numbered heading
(``一、`` ``（一）`` ``第一部分``), a numbered line, a table row whose first cell is the title, or a
short ``标题：`` line. Any other title-like line stays inside the current section, unless it is a
heading of the same or higher rank than the one that opened it (``## 背景`` ends a section opened
by ``## 核心问题``; a ``###`` sub-heading, a bold sub-label or ``主要风险如下：`` does not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from taskchain.text import lazy, measure, normalize

_MD = lazy(r"^\s{0,3}(?P<hashes>#{1,6})\s*(?P<title>.+?)\s*#*\s*$")
_BOLD = lazy(r"^\s*(?:[-*+]\s+)?(?:\*\*|__)(?P<title>[^*_\n]{1,80}?)(?:\*\*|__)\s*[:：]?\s*$")
_BOLD_COLON = lazy(r"^\s*(?:[-*+]\s+)?\*\*(?P<title>[^*\n]{1,60}?)[:：]\*\*\s*(?P<rest>.*)$")
_BRACKET = lazy(r"^\s*(?:[-*+]\s+)?【(?P<title>[^】]{1,60})】\s*[:：]?\s*(?P<rest>.*)$")
_CN1 = lazy(r"^\s*(?P<num>[一二三四五六七八九十]{1,3})\s*[、.．]\s*(?P<title>.+)$")
_CN2 = lazy(r"^\s*[（(](?P<num>[一二三四五六七八九十]{1,3})[)）]\s*(?P<title>.+)$")
_CN3 = lazy(
    r"^\s*第[一二三四五六七八九十\d]{1,3}(?:部分|步|节|章|点|阶段)\s*[:：、.．\s]?\s*(?P<title>.*)$"
)
_NUMBERED = lazy(r"^\s*(?:\d{1,2}(?:\.\d{1,2})*[.)、．]?|[（(]\d{1,2}[)）])\s+(?P<title>.+)$")
_LABEL = lazy(
    r"^\s*(?:[-*+]\s+)?(?:\*\*)?(?P<title>[^:：*|\n]{1,30}?)(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*(?P<rest>.*)$"
)
_TABLE_ROW = lazy(r"^\s*\|(?P<cells>.*)\|\s*$")
_TABLE_RULE = lazy(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_FENCE = lazy(r"^\s*(```|~~~)")
_SENTENCE_END = lazy(r"[。！？!?；;]|\.\s|\.$")
_PAREN = lazy(r"[（(][^）)]*[）)]")

_LIST = lazy(
    r"^(?P<indent>\s*)(?:[-*+•·▪●○◦]|\d{1,3}[.)、．]|[（(]\d{1,3}[)）]|[①-⑳]|"
    r"[一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十]{1,3}[)）]|[a-zA-Z][.)])\s*(?P<text>\S.*)$"
)
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
    r"(?:^|(?<=[.;:!?]\s))(?:the\s+)?(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|fourth(?:ly)?|"
    r"fifth(?:ly)?|finally|lastly)\b(?!-)",
    re.IGNORECASE,
)
_CLAUSE_SPLIT = lazy(r"[；;]")
_MIN_ITEM_UNITS = 2
_PARAGRAPH_UNITS = 15
# How much longer than the section's name a title may be and still name it ("需求清单（按优先级）").
_TITLE_SLACK = 12
_LABEL_SLACK = 4


@dataclass(frozen=True, slots=True)
class SectionName:
    """A required section as the reader looks for it: its key and every title it may go by."""

    key: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Section:
    """The text of one required section as found in an output."""

    key: str
    heading: str  # the line that opened it, as written
    body: str
    ended_by: str | None  # the title-like line that closed it, when one did


@dataclass(frozen=True, slots=True)
class _Title:
    """A line that reads as a title: its text, what follows it on the line, and its rank."""

    title: str
    rest: str
    style: str
    rank: int  # a Markdown heading's level; 2-3 for a short Chinese numbered heading; else 99

    def closes(self, opener: _Title) -> bool:
        """Whether this title, naming no required section, ends the section ``opener`` opened.

        A heading closes a section opened by a heading of its own kind and of the same or a
        lower rank; a short Markdown ``#``/``##`` heading closes any section. Bold lines, labels
        and table rows close nothing: inside a section they are its sub-labels and items.
        """
        if self.rank == 99:
            return False
        if self.style == "md":
            return self.rank <= (opener.rank if opener.style == "md" else 2)
        return opener.style in {"cn1", "cn2", "cn3"} and (
            self.style == opener.style or self.rank < opener.rank
        )


@lru_cache(maxsize=8192)
def _title(line: str) -> _Title | None:
    """How ``line`` reads as a title, if it does (cached: several readings of one output, and
    the report, ask about the same lines)."""
    # Each pattern is tried only where it can match: by the line's first character, or by a
    # mark it cannot match without ("**", "【", a colon).
    first = line.lstrip()[:1]
    if not first:
        return None
    if first == "#":
        match = _MD().match(line)
        if match:
            level = len(match.group("hashes"))
            return _Title(_strip(match.group("title")), "", "md", level)
    bold = "**" in line
    if bold or "__" in line:
        match = _BOLD().match(line)
        if match:
            return _Title(_strip(match.group("title")), "", "bold", 99)
    if bold:
        match = _BOLD_COLON().match(line)
        if match:
            return _Title(_strip(match.group("title")), match.group("rest").strip(), "label", 99)
    if "【" in line:
        match = _BRACKET().match(line)
        if match:
            return _Title(_strip(match.group("title")), match.group("rest").strip(), "bracket", 99)
    if first in _CN_STARTS:
        for pattern, style, rank in ((_CN1, "cn1", 2), (_CN2, "cn2", 3), (_CN3, "cn3", 2)):
            match = pattern().match(line)
            if match:
                title = match.group("title").strip()
                head, rest = _split_label(title)
                if head is not None:
                    return _Title(_strip(head), rest, style, rank if not rest else 99)
                short = len(title) <= 40 and not _SENTENCE_END().search(title.rstrip("。.:："))
                return _Title(_strip(title), "", style, rank if short else 99)
    if first == "|":
        match = _TABLE_ROW().match(line)
        if match and not _TABLE_RULE().match(line):
            cells = [c.strip() for c in match.group("cells").split("|")]
            return _Title(_strip(cells[0]), " ".join(c for c in cells[1:] if c), "table", 99)
    if first.isdigit() or first in "（(":
        match = _NUMBERED().match(line)
        if match:
            head, rest = _split_label(match.group("title"))
            if head is not None:
                return _Title(_strip(head), rest, "numbered", 99)
            return _Title(_strip(match.group("title")), "", "numbered", 99)
    if ":" in line or "：" in line:
        match = _LABEL().match(line)
        if match:
            return _Title(_strip(match.group("title")), match.group("rest").strip(), "label", 99)
    plain = line.strip()
    if 0 < len(plain) <= 30 and not _SENTENCE_END().search(plain):
        return _Title(_strip(plain), "", "plain", 99)  # a bare line may name a section
    return None


# The first characters a Chinese numbered heading starts with (一、 （一） 第一部分).
_CN_STARTS = frozenset("一二三四五六七八九十（(第")


_HEAD_REST = lazy(r"^(?P<head>[^:：]{1,30}?)\s*[:：]\s*(?P<rest>.*)$")


def _split_label(text: str) -> tuple[str | None, str]:
    """``标题：内容`` split at its first colon, when the part before it is short."""
    match = _HEAD_REST().match(text)
    if match is None:
        return None, ""
    return match.group("head"), match.group("rest").strip()


def _strip(title: str) -> str:
    """A title without emphasis marks, numbering and surrounding punctuation."""
    return title.strip().strip("*_#【】[] ").rstrip(":：").strip()


_ARTICLE = lazy(r"^(?:the|a|an|our|my|your)\s+", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _key(title: str) -> str:
    """A title's comparable form: parenthetical remarks and a leading article dropped."""
    title = _ARTICLE().sub("", title.strip())
    return normalize(_PAREN().sub("", title)) or normalize(title)


def names_section(
    title: str, names: Sequence[str], slack: int = _TITLE_SLACK, titles: int = 2
) -> int:
    """How well ``title`` names a section called any of ``names``: 0 when it does not.

    The first ``titles`` names are the section's own titles (Chinese and English), the rest its
    aliases. An exact title beats an exact alias (two sections of one step may share an alias
    with the other's title); a title that starts with a name and is at most ``slack``
    characters longer ("需求清单（按优先级）", "Key risks and their ratings") scores by the
    name's length.
    """
    key = _key(title)
    if not key:
        return 0
    best = 0
    for i, name in enumerate(names):
        name_key = _key(name)
        if not name_key:
            continue
        if key == name_key:
            best = max(best, 20_000 if i < titles else 10_000)
        elif key.startswith(name_key) and len(key) - len(name_key) <= slack:
            best = max(best, len(name_key))
    return best


def read_sections(text: str, wanted: Sequence[SectionName]) -> dict[str, Section]:
    """The required sections found in ``text``, by key (a section that is absent is left out)."""
    return _read(text, tuple(wanted))


@lru_cache(maxsize=512)
def _read(text: str, wanted: tuple[SectionName, ...]) -> dict[str, Section]:
    """Cached: the same output is read by several checks and by the report."""
    found: dict[str, list[str]] = {}
    headings: dict[str, str] = {}
    ended: dict[str, str | None] = {}
    current: str | None = None
    opener: _Title | None = None
    fenced = False
    for line in text.splitlines():
        if _FENCE().match(line):
            fenced = not fenced
        title = None if fenced else _title(line)
        if title is not None:
            # A title with text after it on its line ("成本：……") must name a section closely.
            key = _best(title.title, wanted, _TITLE_SLACK if not title.rest else _LABEL_SLACK)
            if key is not None and key == current:
                found[key].append(line)  # the section named again inside itself: content
                continue
            if key is not None:
                current, opener = key, title
                headings.setdefault(key, line.strip())
                ended[key] = None
                found.setdefault(key, [])
                if title.rest:
                    found[key].append(title.rest)
                continue
            if current is not None and opener is not None and title.closes(opener):
                ended[current] = line.strip()
                current = None
                continue
        if current is not None:
            found[current].append(line)
    return {
        key: Section(key, headings[key], "\n".join(lines).strip(), ended.get(key))
        for key, lines in found.items()
    }


def _best(title: str, wanted: tuple[SectionName, ...], slack: int) -> str | None:
    """The key of the section ``title`` names best, if any."""
    best_key, best_score = None, 0
    for section in wanted:
        score = names_section(title, section.names, slack)
        if score > best_score:
            best_key, best_score = section.key, score
    return best_key


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
    """The text of ``line`` when it is a list item (its marker dropped), else ``None``."""
    match = _LIST().match(line)
    return match.group("text").strip() if match else None


def _list_items(body: str) -> list[str]:
    """Top-level list items (deeper ones belong to the item above them)."""
    matches = [m for m in (_LIST().match(line) for line in body.splitlines()) if m]
    if not matches:
        return []
    outer = min(len(m.group("indent").expandtabs(4)) for m in matches)
    return [
        m.group("text").strip()
        for m in matches
        if len(m.group("indent").expandtabs(4)) <= outer + 1
    ]


def _table_rows(body: str) -> list[str]:
    """The rows of the tables in ``body``, header rows left out."""
    lines = body.splitlines()
    rows: list[str] = []
    for i, line in enumerate(lines):
        if not _TABLE_ROW().match(line) or _TABLE_RULE().match(line):
            continue
        is_header = i + 1 < len(lines) and bool(_TABLE_RULE().match(lines[i + 1]))
        if not is_header:
            rows.append(" ".join(c.strip() for c in line.strip().strip("|").split("|")))
    return rows


def _sublabels(body: str) -> list[str]:
    """Sub-headings, bold sub-labels and 【labels】 opening lines inside the section."""
    return [line.strip().strip("#*【】 ") for line in body.splitlines() if _SUBLABEL().match(line)]


def _prose_points(body: str) -> list[str]:
    """Points enumerated inside paragraphs: ordinal words, or semicolon-separated clauses."""
    best: list[str] = []
    for paragraph in re.split(r"\n\s*\n", body):
        flat = " ".join(paragraph.split())
        for series in _ZH_ORDINALS:
            positions = [flat.find(word) for word in series]
            found = [p for p in positions if p >= 0]
            if len(found) >= 2:
                best = max(best, _cut(flat, sorted(found)), key=len)
        en = [m.start() for m in _EN_ORDINALS().finditer(flat)]
        if len(en) >= 2:
            best = max(best, _cut(flat, en), key=len)
        clauses = [c.strip() for c in _CLAUSE_SPLIT().split(flat) if measure(c) >= 4]
        if len(clauses) >= 3:
            best = max(best, clauses, key=len)
        best = max(best, _parallel(flat), key=len)
    return best


def _parallel(paragraph: str) -> list[str]:
    """Sentences of a paragraph that open the same way ("He should … He should …", "学员能……
    学员能……"): a list written as prose, one point per sentence."""
    said = [
        s.strip() for s in re.split(r"(?<=[。！？!?])|(?<=\.)\s+", paragraph) if measure(s) >= 4
    ]
    groups: dict[str, list[str]] = {}
    for sentence in said:
        words = sentence.split()
        opening = " ".join(words[:2]).lower() if sentence.isascii() else sentence[:2]
        groups.setdefault(opening, []).append(sentence)
    largest = max(groups.values(), key=len, default=[])
    return largest if len(largest) >= 2 else []


def _paragraphs(body: str) -> list[str]:
    """Paragraphs of running text, each of at least ``_PARAGRAPH_UNITS`` units: one point each.

    Lead-in lines ("按优先级排列：") and paragraphs that are lists or tables are not points.
    """
    out = []
    for paragraph in re.split(r"\n\s*\n", body):
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


def _short(line: str) -> bool:
    """A line short enough, and without a full stop, to be a title."""
    stripped = line.strip()
    return len(stripped) <= 30 and not _SENTENCE_END().search(stripped.rstrip("。.:："))


@lru_cache(maxsize=256)
def title_lines(text: str) -> frozenset[int]:
    """Indexes of the lines of ``text`` that are headings of their own (no text after them)."""
    out = set()
    for i, line in enumerate(text.splitlines()):
        title = _title(line)
        if title is None:
            continue
        if not title.rest and title.style in {"md", "bold", "bracket"}:
            out.add(i)
        elif title.style in {"cn1", "cn2", "cn3"} and (title.rank != 99 or _short(line)):
            out.add(i)  # "六、关注点：配额分配方式" is a heading, though it has a colon
    return frozenset(out)
