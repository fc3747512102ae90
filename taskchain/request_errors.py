"""Pydantic's validation errors as our precise codes, worded wholly in Chinese or in English."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from taskchain import limits
from taskchain.errors import InvalidRequestError, chain_error, invalid_field, missing_field
from taskchain.models import TaskType
from taskchain.request_fields import ID_PATTERN
from taskchain.text import clean

# A custom or learning chain that is too long, or not a list of steps, is a chain error.
_CHAINS = {"custom_chain": '{"name": "…"}', "learning_chain": '{"step": "…"}'}
_NOT_A_LIST = frozenset({"list_type"})
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})


def translate(errors: Sequence[Mapping[str, Any]]) -> InvalidRequestError:
    """The :class:`InvalidRequestError` for the first of pydantic's ``errors()``.

    Each error's ``loc`` names the field from the top of the request body (``("config",
    "depth")``); a caller with errors located elsewhere (Powertools prefixes ``body`` or
    ``query``) strips that prefix first.
    """
    error = errors[0]
    loc = tuple(error["loc"])
    path = _path(loc)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    # Blank after cleaning (whitespace, control characters only) counts as missing, like empty.
    blank = not value or (isinstance(value, str) and not clean(value))
    if kind == "missing" or (
        kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1 and blank
    ):
        return missing_field(path)
    if loc and loc[0] == "task_type" and len(loc) == 1:
        return InvalidRequestError(
            f"无效的任务类型：{value!r}，可选：analysis、creative、education、research、custom",
            f"invalid task_type {value!r}; allowed: analysis, creative, education, research, custom",
            code="INVALID_TASK_TYPE",
            details={"field": "task_type", "allowed": list(TaskType.__args__)},  # type: ignore[attr-defined]
        )
    if loc and loc[0] in _CHAINS:
        if len(loc) == 1 and kind in _NOT_A_LIST:
            zh_type, en_type = _type_of(value)
            return chain_error(
                f"{loc[0]} 必须是步骤列表（每一步是一个对象，如 {_CHAINS[str(loc[0])]}），"
                f"收到的是{zh_type}",
                f"{loc[0]} must be a list of steps (each an object such as "
                f"{_CHAINS[str(loc[0])].replace('…', '...')}), not {en_type}",
                field=path,
            )
        if len(loc) == 2 and isinstance(loc[1], int) and kind in _NOT_AN_OBJECT:
            zh_type, en_type = _type_of(value)
            return chain_error(
                f"{loc[0]} 必须是步骤列表，每一步是一个对象（如 {_CHAINS[str(loc[0])]}）；"
                f"第 {loc[1] + 1} 项是{zh_type}",
                f"{loc[0]} must be a list of steps, each an object such as "
                f"{_CHAINS[str(loc[0])].replace('…', '...')}; item {loc[1] + 1} is {en_type}",
                field=path,
            )
    if kind == "too_long" and path in _CHAINS:
        return chain_error(
            f"任务链最多 {limits.MAX_STEPS} 个步骤",
            f"a chain has at most {limits.MAX_STEPS} steps",
            field=path,
            limit=limits.MAX_STEPS,
        )
    if kind == "too_long":  # a list
        limit = ctx.get("max_length")
        return invalid_field(path, f"超过上限 {limit} 项", f"more than {limit} items", limit=limit)
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        return invalid_field(
            path, f"超过上限 {limit} 个字符", f"longer than {limit} characters", limit=limit
        )
    details: dict[str, Any] = {}
    if kind in ("literal_error", "enum"):
        details["allowed"] = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
    return invalid_field(path, *_wording(kind, ctx, details), **details)


def _number(value: Any) -> str:
    """``1.0`` as ``1``; other values as they are."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


# Pydantic's error types in our words, (Chinese, English): pydantic's own English is written
# for Python programmers ("Input should be a valid dictionary or instance of Model").
_WORDS = {
    "missing": ("缺少该字段", "the field is missing"),
    "string_type": ("应为字符串", "must be a string"),
    "int_type": ("应为整数", "must be a whole number"),
    "int_parsing": ("应为整数", "must be a whole number"),
    "int_from_float": ("应为整数，不能带小数", "must be a whole number, without a fraction"),
    "float_type": ("应为数字", "must be a number"),
    "float_parsing": ("应为数字", "must be a number"),
    "decimal_parsing": ("应为数字", "must be a number"),
    "finite_number": ("应为有限的数字", "must be a finite number"),
    "bool_type": ("应为布尔值（true 或 false）", "must be true or false"),
    "bool_parsing": ("应为布尔值（true 或 false）", "must be true or false"),
    "list_type": ("应为列表", "must be a list"),
    "tuple_type": ("应为列表", "must be a list"),
    "set_type": ("应为列表", "must be a list"),
    "frozen_set_type": ("应为列表", "must be a list"),
    "iterable_type": ("应为列表", "must be a list"),
    "dict_type": ("应为对象（JSON 对象）", "must be an object (a JSON object)"),
    "mapping_type": ("应为对象（JSON 对象）", "must be an object (a JSON object)"),
    "model_type": ("应为对象（JSON 对象）", "must be an object (a JSON object)"),
    "model_attributes_type": ("应为对象（JSON 对象）", "must be an object (a JSON object)"),
    "none_required": ("应为 null", "must be null"),
    "extra_forbidden": (
        "不允许的字段（这里没有这个字段）",
        "not an allowed field (there is no such field here; check its spelling)",
    ),
    "json_invalid": ("不是有效的 JSON", "is not valid JSON"),
    "json_type": ("应为 JSON 文本", "must be JSON text"),
    "string_unicode": ("应为有效的 Unicode 文本", "must be valid Unicode text"),
}
# Those that carry a bound or a pattern: (context key, Chinese template, English template).
_WORDS_WITH = {
    "greater_than": ("gt", "应大于 {}", "must be greater than {}"),
    "greater_than_equal": ("ge", "应不小于 {}", "must be at least {}"),
    "less_than": ("lt", "应小于 {}", "must be less than {}"),
    "less_than_equal": ("le", "应不大于 {}", "must be at most {}"),
    "multiple_of": ("multiple_of", "应为 {} 的倍数", "must be a multiple of {}"),
    "string_too_short": ("min_length", "至少 {} 个字符", "must be at least {} characters long"),
    "too_short": ("min_length", "至少 {} 项", "must have at least {} items"),
    "string_pattern_mismatch": (
        "pattern",
        "格式不符合要求（应匹配 {}）",
        "does not have the required form (it must match {})",
    ),
}
# The id pattern, said in words rather than as a regular expression.
_ID_WORDS = ("只能包含 ASCII 字母、数字和 _ . -", "may hold only ASCII letters, digits and _ . -")


def _wording(kind: str, ctx: dict[str, Any], details: dict[str, Any]) -> tuple[str, str]:
    """A pydantic error in Chinese and in English, with its context values."""
    if "allowed" in details:
        return (
            "应为以下之一：" + "、".join(details["allowed"]),
            "must be one of: " + ", ".join(details["allowed"]),
        )
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == ID_PATTERN:
        return _ID_WORDS
    if kind in _WORDS_WITH:
        key, zh, en = _WORDS_WITH[kind]
        value = _number(ctx.get(key, "?"))
        return zh.format(value), en.format(value)
    return _WORDS.get(kind, ("值无效", "is not a valid value"))


def _type_of(value: Any) -> tuple[str, str]:
    """What a JSON value is, in Chinese and in English."""
    if value is None:
        return "null", "null"
    for kinds, zh, en in (
        (bool, "布尔值", "a boolean"),
        (str, "字符串", "a string"),
        ((int, float), "数字", "a number"),
        (dict, "对象", "an object"),
        (list, "列表", "a list"),
    ):
        if isinstance(value, kinds):
            return zh, en
    return "其他类型的值", "another kind of value"


def _path(loc: tuple[int | str, ...]) -> str:
    """``("custom_chain", 2, "name")`` as ``custom_chain[2].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "list[", "str")):
            out += f".{part}" if out else part
    return out or "body"
