"""What a report may count as a finding: the pieces of a section (as written and as plain
text, lead-ins marked), and the placeholders (blanks, unanswered questions, open frames) that
never count."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from taskchain.items import list_item, opens_enumeration, ordinal_starts
from taskchain.text import labelled_row, lazy, measure, table_cells, unmark

_OPEN = r"（(【\[〔<"
_CLOSE = r")）】\]〕>"
_BLANK_WORDS = (
    r"待填写|待补充|待完善|待回答|待确认|待定|"
    r"\b(?:to be filled(?: in)?|to fill in|fill in|tbd|todo|placeholder)\b"
)
# A bracketed blank anywhere: "（待填写）", "(item 1 to fill in)", "[TBD]", "（ ）"; or "____".
_BLANK = lazy(
    rf"[{_OPEN}][^{_OPEN}{_CLOSE}]*?(?:{_BLANK_WORDS})[^{_OPEN}{_CLOSE}]*[{_CLOSE}]"
    rf"|[{_OPEN}]\s*[{_CLOSE}]|_{{3,}}",
    re.IGNORECASE,
)
_ONLY_BRACKETED = lazy(rf"[{_OPEN}][^{_CLOSE}]*[{_CLOSE}]")
_PENDING = lazy(
    r"^(?:待回答|待填写|待补充|待确认|to answer|to fill in|to do|todo|tbd)\s*[:：]", re.IGNORECASE
)
# A frame left open: ends with a standalone ellipsis ("因为 … 所以 …") or a bare label colon.
_OPEN_END = lazy(r"(?:^|\s)(?:…+|\.{3,})$|[:：]$")
_QUESTION = lazy(r"[?？]$")
_LEAD = lazy(r"^\s*(?:>\s*)*(?:[-*+•·]\s+|\d{1,3}[.)、]\s*|[（(]\d{1,3}[)）]\s*|[①-⑳]\s*)?")


def _bare(text: str) -> str:
    """``text`` without its list marker, quote marks and emphasis."""
    return _LEAD().sub("", text, count=1).strip().strip("*").strip()


def is_placeholder(text: str) -> bool:
    """Whether a line or item is a slot to fill in or an unanswered question, not content.

    Blanks (``（待填写）``, ``(to be filled in)``, ``[TBD]``, ``____``, a bracketed aside alone),
    ``待回答：…`` / ``To answer: …`` labels, frames left open (``因为 … 所以 …``, a label with
    nothing after its colon), questions, and lines with almost no content.
    """
    body = _bare(text)
    return (
        measure(body) < 2
        or bool(_BLANK().search(body))
        or bool(_ONLY_BRACKETED().fullmatch(body))
        or bool(_PENDING().match(body))
        or bool(_OPEN_END().search(body))
        or bool(_QUESTION().search(body))
    )


def substance(output: str) -> str:
    """``output`` without its placeholder lines: what focus-area coverage is judged on."""
    return "\n".join(line for line in output.splitlines() if not is_placeholder(line))


def open_questions(output: str) -> int:
    """How many questions an outline leaves to answer."""
    return sum(
        1
        for line in output.splitlines()
        if _PENDING().match(_bare(line)) or _QUESTION().search(_bare(line))
    )


_TABLE_RULE = lazy(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
# What may stand before an ordinal that opens a point: a point starts a sentence or a clause.
_BEFORE_POINT = frozenset(" 。！？；;：:，,.!?、（(")

Kind = Literal["item", "row", "prose"]


@dataclass(frozen=True, slots=True)
class Piece:
    """One item of a section: as written, as plain text, and whether it only leads in."""

    text: str  # as written, on one line (a table row as its cells under their headers): listed
    plain: str  # the same, emphasis removed: what the summary quotes
    lead_in: bool = False  # it introduces the list, table or enumeration after it


def pieces(body: str, language: str = "zh") -> list[Piece]:
    """The items of a section, in order: list items (with their indented continuation lines),
    table rows (not the header row; each as its cells under their headers), and paragraphs of
    prose; a paragraph that enumerates points
    with ordinal words (首先……其次……, first… second…) gives one piece per point.

    Lead-ins are marked: a paragraph followed by a list, a table or paragraphs that enumerate
    ("We checked the plan against the criteria." before them), and a paragraph's opening before
    its first ordinal ("The evidence points to three conclusions. First, …").
    """
    blocks = _blocks(body, language)
    out: list[Piece] = []
    for i, (kind, piece) in enumerate(blocks):
        points = _points(piece.text) if kind == "prose" else None
        if points is None:
            lead_in = kind == "prose" and _leads_in(blocks[i + 1 :])
            out.append(Piece(piece.text, piece.plain, lead_in))
            continue
        lead, *said = points
        if lead:
            out.append(Piece(lead, unmark(lead), lead_in=True))
        out.extend(Piece(point, unmark(point)) for point in said)
    return out


def _blocks(body: str, language: str) -> list[tuple[Kind, Piece]]:
    """The list items, table rows and paragraphs of ``body``, in order, each with its kind."""
    lines = body.splitlines()
    out: list[tuple[Kind, Piece]] = []
    current: list[str] = []
    kind: Kind = "prose"
    header: list[str] = []

    def flush() -> None:
        if current:
            text = " ".join(current)
            out.append((kind, Piece(text, unmark(text))))
            current.clear()

    for i, line in enumerate(lines):
        listed = list_item(line)
        if line.lstrip().startswith("|") and not listed:
            flush()
            kind = "prose"
            if _TABLE_RULE().match(line):
                header = table_cells(lines[i - 1]) if i else []
            elif not (i + 1 < len(lines) and _TABLE_RULE().match(lines[i + 1])):
                # A row is whole on its line; its cells read only under their headers ("优先级：
                # 高", not a bare "高"), so it is listed and quoted as "header: value" pairs.
                row = labelled_row(header, table_cells(line), language)
                out.append(("row", Piece(row, row)))
            continue
        header = []
        if listed:
            flush()
            kind = "item"
            current.append(listed)
        elif not line.strip():
            flush()
            kind = "prose"
        elif kind == "item" and line[:1].isspace():  # the item goes on
            current.append(line.strip())
        else:
            if kind == "item":
                flush()
                kind = "prose"
            current.append(line.strip())
    flush()
    return out


def _points(paragraph: str) -> list[str] | None:
    """The opening of a paragraph that enumerates points, then each point; ``None`` when it
    does not enumerate, or an ordinal word stands inside a word ("其一" in 尤其一线)."""
    flat = " ".join(paragraph.split())
    starts = ordinal_starts(flat)
    if not starts or any(s and flat[s - 1] not in _BEFORE_POINT for s in starts):
        return None
    ends = [*starts[1:], len(flat)]
    points = (flat[s:e].strip().rstrip("；;，,") for s, e in zip(starts, ends, strict=True))
    return [flat[: starts[0]].strip(), *points]


def _leads_in(after: list[tuple[Kind, Piece]]) -> bool:
    """Whether a paragraph followed by ``after`` introduces it: the next block that is not a
    label or blank is a list item, a table row, or a paragraph opening an enumeration."""
    for kind, piece in after:
        if kind == "prose" and is_placeholder(piece.text):
            continue  # "Against the criteria:" between the lead-in and its table
        return kind != "prose" or opens_enumeration(piece.text)
    return False
