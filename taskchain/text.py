"""Reading model output: cleaning, measuring, sections, list items, summaries, similarity."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# C0 controls except tab and newline, DEL, and C1 controls; NUL among them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*(?P<title>.+?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:[-*+]\s+)?\*\*(?P<title>[^*]{1,60}?)\*\*\s*[:：]?\s*$")
_BRACKET = re.compile(r"^\s*【(?P<title>[^】]{1,60})】")
_LABEL = re.compile(r"^\s*(?:[-*+]\s+)?\**(?P<title>[^:：*\n]{1,24}?)\**\s*[:：]\s*(?P<rest>.*)$")
_ITEM = re.compile(
    r"^\s*(?:[-*+•·]|\d{1,3}[.)、]|[（(]\d{1,3}[)）]|[一二三四五六七八九十]{1,3}[、.])\s*\S"
)
_NUMBERING = re.compile(
    r"^(?:\d{1,3}(?:\.\d{1,3})*[.)、]?|[一二三四五六七八九十]{1,3}[、.]|第[一二三四五六七八九十\d]+[部分步节章]?[:：、]?)\s*"
)
_MARKER = re.compile(
    r"^\s*(?:[-*+•·]|\d{1,3}[.)、]|[（(]\d{1,3}[)）]|[一二三四五六七八九十]{1,3}[、.])\s*"
)
_TITLE_STARTS = frozenset("#*【-+")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_SENTENCE_SPLIT = re.compile(r"[。！？!?；;\n]+|(?<=[a-z0-9])\.\s+", re.IGNORECASE)


def clean(text: str) -> str:
    """Strip NUL and other control characters (tab and newline stay) and surrounding whitespace."""
    return _CONTROL.sub("", text).strip()


@lru_cache(maxsize=256)
def measure(text: str) -> int:
    """Length in content units: one per CJK character plus one per Latin word or number.

    A unit is roughly one Chinese character or one English word, so one set of depth bounds
    serves both languages.
    """
    return len(_CJK.findall(text)) + len(_WORD.findall(text))


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Lower-case, drop numbering, punctuation and whitespace: the form titles are compared in."""
    return _PUNCT.sub("", _NUMBERING.sub("", text.strip().lower()))


@dataclass(frozen=True, slots=True)
class Block:
    """A titled part of an output: a Markdown heading or labelled line, and the text under it."""

    title: str
    key: str  # normalize(title)
    body: str


@lru_cache(maxsize=256)
def blocks(text: str) -> tuple[Block, ...]:
    """Split ``text`` at headings, bold lines, 【labels】 and short ``label:`` lines.

    Text before the first title becomes a block with an empty title. Cached: the same output
    is read by several checks, by later steps' repeat checks and by the report.
    """
    found: list[Block] = []
    title, lines = "", []
    for line in text.splitlines():
        new_title, rest = _title_of(line)
        if new_title is None:
            lines.append(line)
            continue
        if title or any(s.strip() for s in lines):
            found.append(Block(title, normalize(title), "\n".join(lines).strip()))
        title, lines = new_title, [rest] if rest else []
    if title or any(s.strip() for s in lines):
        found.append(Block(title, normalize(title), "\n".join(lines).strip()))
    return tuple(found)


def _title_of(line: str) -> tuple[str | None, str]:
    """The title a line introduces (and text after it on the same line), or ``None``."""
    first = line.lstrip()[:1]
    if first == ">" or (first not in _TITLE_STARTS and ":" not in line and "：" not in line):
        return None, ""  # quotes are never titles; plain lines exit cheaply
    for pattern in (_HEADING, _BOLD_LINE):
        match = pattern.match(line)
        if match:
            return match.group("title").strip("*# "), ""
    match = _BRACKET.match(line)
    if match:
        return match.group("title"), line[match.end() :].strip()
    match = _LABEL.match(line)
    if match and not _ITEM.match(line.replace("**", "")):
        return match.group("title").strip(), match.group("rest").strip()
    return None, ""


def find_block(found: Sequence[Block], names: Iterable[str]) -> Block | None:
    """The first block whose title contains one of ``names`` (compared normalized)."""
    keys = [k for k in (normalize(n) for n in names) if k]
    for block in found:
        if block.key and any(k in block.key for k in keys):
            return block
    return None


@lru_cache(maxsize=1024)
def items(body: str) -> tuple[str, ...]:
    """The list items (bullets, numbers) in ``body``, without their markers."""
    return tuple(
        _MARKER.sub("", line, count=1).strip() for line in body.splitlines() if _ITEM.match(line)
    )


def first_sentence(text: str, limit: int) -> str:
    """The first meaningful line of ``text`` that is not a title, cut to ``limit`` characters."""
    for block in blocks(text):
        for line in block.body.splitlines():
            stripped = re.sub(r"^\s*(?:[-*+•·]|\d{1,3}[.)、])\s*", "", line).strip(" *")
            if measure(stripped) >= 2:
                return shorten(stripped, limit)
    return shorten(" ".join(text.split()), limit)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def mentions(text_key: str, phrase: str) -> bool:
    """Whether normalized text ``text_key`` mentions ``phrase``.

    The phrase counts as mentioned when it appears whole, or, for a phrase of several Latin
    words, when each of its words of three or more letters appears.
    """
    phrase_key = normalize(phrase)
    if not phrase_key:
        return True
    if phrase_key in text_key:
        return True
    words = [w.lower() for w in _WORD.findall(phrase) if len(w) >= 3]
    return len(words) > 1 and all(w in text_key for w in words)


@lru_cache(maxsize=256)
def sentences(text: str) -> frozenset[str]:
    """The sentences of ``text`` long enough to mean something, lower-cased without punctuation.

    Cached: each earlier output is compared with every later step's output.
    """
    # Whitespace-collapsed rather than fully normalized: cheaper, and a copy is still a copy.
    return frozenset(
        key
        for raw in _SENTENCE_SPLIT.split(text.lower())
        if len(key := " ".join(raw.split()).strip("-*+•· ")) >= 8 and not key.startswith("#")
    )


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two sentence sets (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
