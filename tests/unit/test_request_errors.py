"""Pydantic's validation errors as our messages: written for the caller in both languages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from taskchain.request_errors import translate

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
LIBRARY = "LIBRARY TEXT"

# Every error type pydantic raises for taskchain's requests, with the context it carries.
KINDS: list[tuple[str, dict[str, Any]]] = [
    ("string_type", {}),
    ("int_type", {}),
    ("int_parsing", {}),
    ("int_from_float", {}),
    ("float_type", {}),
    ("float_parsing", {}),
    ("decimal_parsing", {}),
    ("finite_number", {}),
    ("bool_type", {}),
    ("bool_parsing", {}),
    ("list_type", {}),
    ("tuple_type", {}),
    ("set_type", {}),
    ("frozen_set_type", {}),
    ("iterable_type", {}),
    ("dict_type", {}),
    ("mapping_type", {}),
    ("model_type", {}),
    ("model_attributes_type", {}),
    ("none_required", {}),
    ("extra_forbidden", {}),
    ("json_invalid", {}),
    ("json_type", {}),
    ("string_unicode", {}),
    ("greater_than", {"gt": 0}),
    ("greater_than_equal", {"ge": 1}),
    ("less_than", {"lt": 1}),
    ("less_than_equal", {"le": 1.0}),
    ("multiple_of", {"multiple_of": 5}),
    ("string_too_short", {"min_length": 3}),
    ("too_short", {"min_length": 2}),
    ("string_too_long", {"max_length": 500}),
    ("too_long", {"max_length": 10}),
    ("string_pattern_mismatch", {"pattern": r"^[A-Za-z0-9_.\-]+$"}),
    ("string_pattern_mismatch", {"pattern": r"^\d+$"}),
    ("literal_error", {"expected": "'zh' or 'en'"}),
    ("enum", {"expected": "'json' or 'markdown'"}),
    ("value_error", {}),
]


@pytest.mark.parametrize(("kind", "ctx"), KINDS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(KINDS)])
def test_every_error_type_is_worded_by_us_in_both_languages(kind: str, ctx: dict[str, Any]) -> None:
    error = translate(
        [{"type": kind, "loc": ("config", "x"), "msg": LIBRARY, "input": "v", "ctx": ctx}]
    )

    zh, en = error.message("zh"), error.message("en")
    assert error.code == "INVALID_FIELD"
    assert zh.startswith("字段 config.x 无效：")
    assert en.startswith("invalid field config.x: ")
    assert LIBRARY not in zh
    assert LIBRARY not in en
    assert not CJK.search(en), en
    bound = next((v for key, v in ctx.items() if key not in ("expected", "pattern")), None)
    if bound is not None:  # the bound is named in both
        shown = str(int(bound)) if isinstance(bound, float) and bound.is_integer() else str(bound)
        assert shown in zh, zh
        assert shown in en, en


@pytest.mark.parametrize(
    ("kind", "limit", "zh", "en"),
    [
        ("too_long", 10, "超过上限 10 项", "more than 10 items"),
        ("string_too_long", 500, "超过上限 500 个字符", "longer than 500 characters"),
    ],
)
def test_too_long_says_items_for_a_list_and_characters_for_text(
    kind: str, limit: int, zh: str, en: str
) -> None:
    error = translate(
        [
            {
                "type": kind,
                "loc": ("reason",),
                "msg": LIBRARY,
                "input": "",
                "ctx": {"max_length": limit},
            }
        ]
    )

    assert error.message("zh") == f"字段 reason 无效：{zh}"
    assert error.message("en") == f"invalid field reason: {en}"
    assert error.details == {"field": "reason", "limit": limit}
