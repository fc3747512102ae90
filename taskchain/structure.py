"""Reading an output's structure as people write it: the required sections (the items in a
section are read by :mod:`taskchain.items`).

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

from taskchain.lexicon import EN_STOP
from taskchain.text import lazy, normalize

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
TABLE_ROW = lazy(r"^\s*\|(?P<cells>.*)\|\s*$")
TABLE_RULE = lazy(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_FENCE = lazy(r"^\s*(```|~~~)")
_SENTENCE_END = lazy(r"[。！？!?；;]|\.\s|\.$")
_EN_WORD = lazy(r"[a-z]+")
_DIGIT = lazy(r"\d")
_PAREN = lazy(r"[（(][^）)]*[）)]")
# A title's short prefix before a dash, bar or colon, and the index that makes it a prefix.
_INDEXED = lazy(r"^(?P<head>[^—–|｜:：]{1,12}?)\s*(?:—|–|--?|\||｜|:|：)\s*(?P<tail>\S.*)$")
_INDEX = lazy(r"\d|[一二三四五六七八九十]|\b[A-Z]\b")

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


def _fence(line: str) -> bool:
    """Whether ``line`` opens or closes a code block."""
    return ("```" in line or "~~~" in line) and _FENCE().match(line) is not None


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
        match = TABLE_ROW().match(line)
        if match and not TABLE_RULE().match(line):
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


@lru_cache(maxsize=1024)
def _keys(names: tuple[str, ...]) -> tuple[str, ...]:
    """The comparable forms of a section's ``names`` (cached: every title line is compared
    with every section's names)."""
    return tuple(map(_key, names))


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
    return _score(_key(title), _keys(tuple(names)), slack, titles)


def _score(key: str, name_keys: tuple[str, ...], slack: int, titles: int = 2) -> int:
    """:func:`names_section` of a title and names in their comparable forms."""
    if not key:
        return 0
    best = 0
    for i, name_key in enumerate(name_keys):
        if not name_key or not key.startswith(name_key):
            continue
        if len(key) == len(name_key):
            best = max(best, 20_000 if i < titles else 10_000)
        elif len(key) - len(name_key) <= slack:
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
        if _fence(line):
            fenced = not fenced
        title = None if fenced else _title(line)
        if title is not None:
            # A title with text after it on its line ("成本：……") must name a section closely.
            slack = _TITLE_SLACK if not title.rest else _LABEL_SLACK
            # Only a title set apart (a heading, a bold line or label) may name a section by
            # its words: a list item's "To answer: …" is content.
            apart = (
                title.style in {"md", "bold", "bracket"}
                or line.startswith("**")
                or (not title.rest and title.style in {"label", "plain"})
            )
            key = _best(title.title, wanted, slack, frozenset(found) if apart else None)
            if key is None and title.style in {"md", "bold", "bracket", "plain"} and title.rank > 1:
                tail = _after_index(title.title)  # "Slide 3 — Risks", "第3页｜风险清单"
                key = _best(tail, wanted, slack) if tail else None
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


def _best(
    title: str, wanted: tuple[SectionName, ...], slack: int, found: frozenset[str] | None = None
) -> str | None:
    """The key of the section ``title`` names best, if any.

    Failing a name, and given the sections already ``found``, an English title made of one
    section's own words names it ("Connections" for "How the concepts connect"), when no other
    section's words make it too; not a section already found, and not a numbered title
    ("Stage 1" is an item of "Stages").
    """
    key = _key(title)
    best_key, best_score = None, 0
    for section in wanted:
        score = _score(key, _keys(section.names), slack)
        if score > best_score:
            best_key, best_score = section.key, score
    if found is not None and best_key is None and title.isascii() and not _DIGIT().search(title):
        words = _title_words(title)
        if words:
            named = [s.key for s in wanted if _made_of(words, s.names)]
            return named[0] if len(named) == 1 and named[0] not in found else None
    return best_key


def _after_index(title: str) -> str | None:
    """What follows a short numbered prefix and a dash, bar or colon ("Slide 3 — Risks",
    "第3页｜风险清单", "Part 2: Key risks"), or ``None`` when ``title`` has no such prefix."""
    match = _INDEXED().match(title)
    if match is None or not _INDEX().search(match.group("head")):
        return None
    return match.group("tail")


def _title_words(title: str) -> tuple[str, ...]:
    """The words of four letters or more of an English title, function words aside."""
    return tuple(w for w in _EN_WORD().findall(title.lower()) if len(w) >= 4 and w not in EN_STOP)


def _made_of(words: tuple[str, ...], names: Sequence[str]) -> bool:
    """Whether every one of ``words`` is a word of one of the English ``names`` (or shares its
    stem with one: "connections" and "connect")."""
    own = _name_words(tuple(names))
    return all(any(_same_stem(w, o) for o in own) for w in words)


@lru_cache(maxsize=1024)
def _name_words(names: tuple[str, ...]) -> frozenset[str]:
    """The words of :func:`_title_words` of the English ``names``."""
    return frozenset(w for name in names if name.isascii() for w in _title_words(name))


def _same_stem(a: str, b: str) -> bool:
    """Whether two words share all but the last letter of the shorter, four at least."""
    shared = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return shared >= max(4, min(len(a), len(b)) - 1)


def _short(line: str) -> bool:
    """A line short enough, and without a full stop, to be a title."""
    stripped = _PAREN().sub("", line.strip())  # "（第7～10周，约16小时）" is a remark
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
