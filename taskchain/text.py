"""Reading model output: cleaning, measuring, plain text, one-line summaries, table rows; and
counts worded in English."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
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
# Emphasis: "**" wherever it stands (a pair cut in two leaves one), "__x__", and "*x*" / "_x_"
# around text, never "2 * 3", a "* " bullet or snake_case.
_STRONG = lazy(r"\*\*|(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")
_EM = lazy(
    r"(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])?\*(?![\w*])|(?<!\w)_(?=[^\s_])([^_\n]*?[^\s_])?_(?!\w)"
)
_SPACE_AFTER_CJK_MARK = lazy(r"(?<=[：；，。！？、）」』】])[ \t]+")
# A title by number alone on its line: "1." "2.3" "一、" "（一）" "第一部分".
_NUMBER = lazy(
    r"^\s*(?:\d{1,3}(?:\.\d{1,3})*[.)、．]|[一二三四五六七八九十]{1,3}[、.．]|"
    r"[（(][一二三四五六七八九十\d]{1,3}[)）]|第[一二三四五六七八九十\d]{1,3}(?:部分|章|节)[:：、]?)\s*"
)
_SENTENCE_MARK = lazy(r"[。！？!?；;]|\.(?:\s|$)")
_ROW_NUMBER = lazy(r"\d{1,3}[.)]?")
_TITLE_UNITS = (
    8  # a title or label alone on its line ("Core question:", "一、核心问题") is this short
)


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
    cjk = 0 if text.isascii() else sum(map(len, _CJK_RUN().findall(text)))
    return cjk + len(_WORD().findall(text))


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Lower-case, drop numbering, punctuation and whitespace: the form titles are compared in."""
    return _PUNCT().sub("", _NUMBERING().sub("", text.strip().lower()))


def unmark(text: str) -> str:
    """``text`` without Markdown emphasis marks (``**``, ``__``, ``*x*``, ``_x_``), and without
    the space those leave after Chinese punctuation ("**主题：** 花园" reads "主题：花园")."""
    if "*" not in text and "_" not in text:
        return text
    text = _STRONG().sub(lambda m: m.group(1) or "", text)
    text = _EM().sub(lambda m: m.group(1) or m.group(2) or "", text)
    return _SPACE_AFTER_CJK_MARK().sub("", text)


def first_sentence(text: str, limit: int) -> str:
    """The first meaningful line of ``text``, as plain text, cut to ``limit`` characters.

    Headings are not meaningful lines, and neither are titles written as text: a short label
    alone on its line ("Core question:", "核心问题：") and a numbered title followed by the
    paragraph it heads ("一、核心问题", "1. Core question"); a numbered list's items are content.
    """
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _HEADING().match(line) or _BOLD_LINE().match(line) or line.lstrip().startswith(">"):
            continue
        stripped = _ITEM_MARK().sub("", unmark(line)).strip()
        if _is_label(stripped) or _is_numbered_title(lines, i):
            continue
        if measure(stripped) >= 2:
            return shorten(stripped, limit)
    return shorten(unmark(" ".join(text.split())), limit)


def _is_title_text(text: str) -> bool:
    """Whether ``text`` is short and states nothing (no full stop): a title or label."""
    return measure(text) <= _TITLE_UNITS and not _SENTENCE_MARK().search(text)


def _is_label(text: str) -> bool:
    """Whether ``text`` is only a label: a short title ending in a colon, its content below."""
    return text.endswith((":", "：")) and _is_title_text(text.rstrip(":："))


def _is_numbered_title(lines: Sequence[str], i: int) -> bool:
    """Whether ``lines[i]`` is a numbered title ("1. Core question") heading the paragraph after
    it, rather than an item of a numbered list (the next line would be numbered too)."""
    match = _NUMBER().match(lines[i])
    if match is None or not _is_title_text(unmark(lines[i][match.end() :]).strip(" :：")):
        return False
    after = next((line for line in lines[i + 1 :] if line.strip()), "")
    return bool(after) and not after[0].isspace() and _NUMBER().match(after) is None


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when cut: between words
    when the cut would fall inside a Latin word (unless that word is all there is)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    if cut[-1:].isascii() and cut[-1:].isalnum() and text[len(cut) : len(cut) + 1].isalnum():
        before, space, _ = cut.rpartition(" ")
        cut = before if space and before else cut
    return cut.rstrip() + "…"


def table_cells(row: str) -> list[str]:
    """The cells of a Markdown table row, trimmed, without the outer pipes."""
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def labelled_row(header: Sequence[str], cells: Sequence[str], language: str) -> str:
    """A table row as plain text: each cell after its column's header ("Risk: delay, Impact:
    high"; "风险：延期，影响：高"), empty cells left out, emphasis removed.

    A cell under a header with no words ("#") or beyond the header stands alone; under "#" a
    row's bare number ("3") is left out, as it only counts the rows.
    """
    colon, comma = (": ", ", ") if language == "en" else ("：", "，")
    said = []
    for i, cell in enumerate(cells):
        value = unmark(cell).strip()
        name = unmark(header[i]).strip() if i < len(header) else ""
        if measure(name):
            said.append(f"{name}{colon}{value}" if value else "")
        elif not (name and _ROW_NUMBER().fullmatch(value)):
            said.append(value)
    return comma.join(part for part in said if part)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in the number it takes in English: "1 step", "3 steps"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
