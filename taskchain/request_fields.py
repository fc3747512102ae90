"""The value types of request fields: exactly what the OpenAPI document says on the HTTP API,
forgiving for the one-shot contract and the command line.

The HTTP routes validate bodies and queries against the same models their OpenAPI document is
generated from, so each type here accepts exactly what its JSON Schema describes: a boolean is
``true`` or ``false``, an integer an integer (``2.0`` included, as in JSON Schema), an enum one
of its values; a string's length limits count what was sent, and a required string must hold
something besides whitespace and control characters (which are stripped from what is kept).

:func:`taskchain.requests.parse` — the one-shot contract (direct invocations,
:func:`taskchain.run`) and the CLI — validates with the :data:`LENIENT` context, in which the
forgiving spellings models send are accepted too: booleans and numbers as strings (``"false"``,
``"2"``), enum values in any case with surrounding whitespace, ``zh-CN`` / ``English`` as
languages, and a list as one comma-separated string.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

from pydantic import (
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from taskchain import jsontext
from taskchain.text import clean

LENIENT: dict[str, Any] = {"lenient": True}
# A required string holds a character that is neither whitespace nor a control character: what
# is left after cleaning (taskchain.text.clean) is not empty. ECMA-262 and Python agree on it.
NOT_BLANK = "[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
# Step and session ids: ASCII letters, digits, _ . - (the same in ECMA-262 and Python regexes).
ID_PATTERN = r"^[A-Za-z0-9_.\-]+$"
_LANGUAGE_ALIASES = {"zh-cn": "zh", "zh-hans": "zh", "zh_cn": "zh", "cn": "zh", "chinese": "zh",
                     "中文": "zh", "en-us": "en", "en-gb": "en", "en_us": "en", "english": "en",
                     "英文": "en"}  # fmt: skip
_SEPARATORS = re.compile(r"[,，、;；]")


def lenient(info: ValidationInfo) -> bool:
    """Whether this validation runs with the :data:`LENIENT` context."""
    return isinstance(info.context, dict) and bool(info.context.get("lenient"))


_LAX: dict[type[Any], TypeAdapter[Any]] = {}


def _lax(kind: type[Any]) -> TypeAdapter[Any]:
    """Pydantic's lax validator of ``kind``, built on the first lenient use (not at import)."""
    adapter = _LAX.get(kind)
    if adapter is None:
        adapter = _LAX[kind] = TypeAdapter(kind)
    return adapter


def _relaxed(kind: type[Any]) -> Callable[[Any, ValidationInfo], Any]:
    """A before-validator: pydantic's lax conversion when lenient, integral floats as integers."""

    def convert(value: Any, info: ValidationInfo) -> Any:
        if lenient(info):
            try:
                return _lax(kind).validate_python(value)
            except ValidationError:
                return value  # the strict type gives the error
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)  # JSON Schema counts 2.0 as an integer
        return value

    return convert


def _query_flag(value: Any) -> Any:
    """A query string's ``true`` / ``false`` (what OpenAPI serialises a boolean as)."""
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


def _query_whole(value: Any) -> Any:
    """A query string's decimal digits as the integer they spell."""
    return int(value) if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value) else value


Flag = Annotated[bool, Strict(), BeforeValidator(_relaxed(bool))]
# Query values arrive as text: exactly the serialisation of a documented value is taken.
QueryFlag = Annotated[bool, Strict(), BeforeValidator(_query_flag)]


# Bounds are named tuples, not frozen dataclasses: as immutable, and built several times faster
# (every cold start builds them at import).
class Whole(NamedTuple):
    """An integer within bounds: ``Annotated[int, Whole(1, 10)]``; ``query=True`` for a query
    parameter, whose value is the text of its digits."""

    ge: int | None = None
    le: int | None = None
    query: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        strict = core_schema.int_schema(strict=True, ge=self.ge, le=self.le)
        if self.query:
            return core_schema.no_info_before_validator_function(_query_whole, strict)
        return core_schema.with_info_before_validator_function(_relaxed(int), strict)


class Number(NamedTuple):
    """A number within bounds: ``Annotated[float, Number(gt=0, le=1)]``."""

    gt: float | None = None
    le: float | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        strict = core_schema.float_schema(strict=True, gt=self.gt, le=self.le)
        return core_schema.with_info_before_validator_function(_relaxed(float), strict)


def _word(value: Any, info: ValidationInfo) -> Any:
    """Lenient: any case, surrounding whitespace and control characters (``" Analysis "``)."""
    return clean(value).lower() if lenient(info) and isinstance(value, str) else value


def _language(value: Any, info: ValidationInfo) -> Any:
    """Lenient: ``_word``, and the common spellings of the two languages (``zh-CN``, ``English``)."""
    value = _word(value, info)
    return (
        _LANGUAGE_ALIASES.get(value, value) if lenient(info) and isinstance(value, str) else value
    )


Word = BeforeValidator(_word)
LanguageWord = BeforeValidator(_language)


def _not_blank(value: str) -> str:
    if not value:
        raise PydanticCustomError(
            "string_too_short",
            "String should have at least {min_length} character",
            {"min_length": 1},
        )
    return value


class Clean(NamedTuple):
    """Text whose limits count what was sent, kept without control characters and surrounding
    whitespace; with ``min_length=1`` it must hold more than those, or it counts as missing.

    ``Annotated[str, Clean(1, 1000)]``: a required string of at most 1,000 characters.
    """

    min_length: int = 0
    max_length: int | None = None
    pattern: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        schema = core_schema.no_info_after_validator_function(
            clean,
            core_schema.str_schema(
                min_length=self.min_length or None,
                max_length=self.max_length,
                pattern=self.pattern,
            ),
        )
        if self.min_length:
            schema = core_schema.no_info_after_validator_function(_not_blank, schema)
        return schema

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out: JsonSchemaValue = {"type": "string"}
        if self.min_length:
            out["minLength"] = self.min_length
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        if self.pattern or self.min_length:
            out["pattern"] = self.pattern or NOT_BLANK
        return out


Text = Annotated[str, Clean()]


def _string_list(value: Any, info: ValidationInfo) -> Any:
    """Lenient: one string of comma-separated items (or a JSON list in a string) as the list."""
    if lenient(info) and isinstance(value, str):
        value = clean(value)
        if value.startswith("["):
            try:
                return jsontext.loads(value)
            except ValueError:  # not JSON (deep, huge or bad Unicode included): split it
                pass
        return [part.strip() for part in _SEPARATORS.split(value) if part.strip()]
    return value


Items = BeforeValidator(_string_list)
