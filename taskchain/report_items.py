"""What a report may count as a finding: the pieces of a section, and the placeholders
(blanks, unanswered questions, open frames) that never count."""

from __future__ import annotations

import re

from taskchain.items import list_item
from taskchain.text import lazy, measure

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


def pieces(body: str) -> list[str]:
    """The items of a section, in order: list items (with their indented continuation lines),
    table rows (not the header row), and paragraphs of prose."""
    lines = body.splitlines()
    headers = {i - 1 for i, line in enumerate(lines) if i and _TABLE_RULE().match(line)}
    out: list[str] = []
    current: list[str] = []
    in_item = False

    def flush() -> None:
        if current:
            out.append(" ".join(current))
            current.clear()

    for i, line in enumerate(lines):
        listed = list_item(line)
        if listed or line.lstrip().startswith("|"):
            flush()
            if listed:
                current.append(listed)
            elif i not in headers and not _TABLE_RULE().match(line):  # a row is whole on its line
                out.append(line.strip().strip("|").strip())
            in_item = bool(listed)
        elif not line.strip():
            flush()
            in_item = False
        elif in_item and line[:1].isspace():  # the item goes on
            current.append(line.strip())
        else:
            if in_item:
                flush()
                in_item = False
            current.append(line.strip())
    flush()
    return out
