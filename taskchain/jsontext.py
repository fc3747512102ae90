"""JSON from untrusted callers: every way a document can be unusable is one ``ValueError``.

:func:`json.loads` raises more than :class:`json.JSONDecodeError` on hostile input — a
``RecursionError`` for deep nesting, a ``ValueError`` for an integer of more than 4,300 digits —
and accepts what no store or answer can hold: ``NaN`` and ``Infinity``, strings with unpaired
surrogates (``"\\ud800"``), documents nested a thousand levels deep. :func:`loads` refuses all
of them with :class:`UnusableJsonError` (a ``JSONDecodeError``, so every caller that handles bad
JSON handles these too); :func:`problem` finds the same faults in a value already decoded (a
direct invocation's event).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Far deeper than any request taskchain takes (a custom chain's rules are ~5 levels).
MAX_DEPTH = 64
# Python refuses to convert longer integer literals; far longer than any number taskchain takes.
MAX_INT_DIGITS = 4300
_INT_LIMIT = 10**MAX_INT_DIGITS

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAYBE_SURROGATE = re.compile(r"[\ud800-\udfff]|\\u[dD][89a-fA-F]")

# The reasons a document is refused, worded for the caller: (Chinese, English).
TOO_DEEP = (f"嵌套超过 {MAX_DEPTH} 层", f"it is nested more than {MAX_DEPTH} levels deep")
NUMBER_TOO_LONG = (
    f"有超过 {MAX_INT_DIGITS} 位的整数",
    f"it has an integer of more than {MAX_INT_DIGITS} digits",
)
NOT_FINITE = (
    "有 NaN 或 Infinity（JSON 没有这样的数）",
    "it has NaN or Infinity (not JSON numbers)",
)
BAD_UNICODE = (
    "有未配对的 UTF-16 代理项（如 \\ud800），不是有效的 Unicode 文本",
    "a string holds an unpaired UTF-16 surrogate (such as \\ud800), which is not valid Unicode",
)


class UnusableJsonError(json.JSONDecodeError):
    """A document :func:`loads` refuses though the standard parser might take it; ``reason``
    is one of the module's reasons, ``(Chinese, English)``."""

    def __init__(self, reason: tuple[str, str], doc: str = "") -> None:
        super().__init__(reason[1], doc, 0)
        self.reason = reason


def _no_constant(name: str) -> Any:
    raise UnusableJsonError(NOT_FINITE)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise UnusableJsonError(NOT_FINITE)
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise UnusableJsonError(NUMBER_TOO_LONG)
    return int(text)


def loads(text: str | bytes | bytearray) -> Any:
    """The JSON value of ``text``.

    Raises
    ------
    json.JSONDecodeError
        Not JSON (``UnicodeDecodeError``, also a ``ValueError``, for bytes that are not UTF-8
        text), or an :class:`UnusableJsonError`: nested deeper than :data:`MAX_DEPTH`, a number
        that is not finite or has more than :data:`MAX_INT_DIGITS` digits, or a string that is
        not valid Unicode.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8-sig" if text[:3] == b"\xef\xbb\xbf" else "utf-8")
    try:
        value = json.loads(
            text, parse_int=_integer, parse_float=_finite, parse_constant=_no_constant
        )
    except RecursionError:
        raise UnusableJsonError(TOO_DEEP, text) from None
    # Only text with many brackets can be too deep, and only text with a surrogate or a
    # \\uD8xx escape can hold one: the walk runs for those alone.
    nested = text.count("[") + text.count("{") > MAX_DEPTH
    if nested or _MAYBE_SURROGATE.search(text):
        reason = problem(value)
        if reason is not None:
            raise UnusableJsonError(reason, text)
    return value


def problem(value: Any) -> tuple[str, str] | None:
    """Why ``value`` (decoded JSON, or a platform's event) cannot be used, or ``None``.

    Walks iteratively, so a value nested past the interpreter's recursion limit is measured, not
    crashed on.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return BAD_UNICODE
        elif isinstance(item, float):
            if not math.isfinite(item):
                return NOT_FINITE
        elif isinstance(item, int):
            if abs(item) >= _INT_LIMIT:
                return NUMBER_TOO_LONG
        elif isinstance(item, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                return TOO_DEEP
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                item = item.values()
            stack.extend((child, depth + 1) for child in item)
    return None
