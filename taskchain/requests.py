"""Request models: what callers send, parsed leniently and translated into precise errors."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from taskchain import limits
from taskchain.errors import InvalidRequestError, invalid_field, missing_field
from taskchain.models import Depth, ExecutionMode, Language, TaskType, ValidationRules
from taskchain.text import clean


def _clean(value: Any) -> Any:
    """Strip control characters and surrounding whitespace from strings."""
    return clean(value) if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    """Lower-case and trim strings, so ``" Analysis "`` is ``analysis``."""
    return clean(value).lower() if isinstance(value, str) else value


_LANGUAGE_ALIASES = {"zh-cn": "zh", "zh-hans": "zh", "zh_cn": "zh", "cn": "zh", "chinese": "zh",
                     "中文": "zh", "en-us": "en", "en-gb": "en", "en_us": "en", "english": "en",
                     "英文": "en"}  # fmt: skip


def _language(value: Any) -> Any:
    """Accept common spellings of the two languages."""
    value = _lower(value)
    return _LANGUAGE_ALIASES.get(value, value) if isinstance(value, str) else value


def _string_list(value: Any) -> Any:
    """Accept a list, or one string of comma-separated items (models often send that)."""
    if isinstance(value, str):
        value = clean(value)
        if value.startswith("["):
            try:
                return json.loads(value)
            except ValueError:
                pass
        return [part for part in re.split(r"[,，、;；]", value) if part.strip()]
    return value


Text = Annotated[str, BeforeValidator(_clean)]
StrList = Annotated[list[Text], BeforeValidator(_string_list)]


class Request(BaseModel):
    """Base of request models: lenient about types and whitespace, ignores unknown fields."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class ConfigIn(Request):
    """``config`` of a chain request."""

    depth: Annotated[Depth, BeforeValidator(_lower)] = "detailed"
    focus_areas: Annotated[
        list[Annotated[Text, Field(min_length=1, max_length=limits.MAX_FOCUS_AREA_CHARS)]],
        BeforeValidator(_string_list),
        Field(max_length=limits.MAX_FOCUS_AREAS),
    ] = []
    language: Annotated[Language, BeforeValidator(_language)] = "zh"
    execution_mode: Annotated[ExecutionMode, BeforeValidator(_lower)] = "sequential"
    continue_on_failure: bool | None = None


class CustomStepIn(Request):
    """One step of a ``custom_chain``."""

    id: Annotated[Text, Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")] | None = None
    name: Annotated[Text, Field(min_length=1, max_length=limits.MAX_STEP_NAME_CHARS)]
    description: Annotated[Text, Field(max_length=limits.MAX_STEP_DESCRIPTION_CHARS)] = ""
    required_capabilities: Annotated[
        StrList, Field(max_length=limits.MAX_CAPABILITIES_PER_STEP)
    ] = []
    dependencies: StrList = []
    validation_rules: ValidationRules | None = None
    max_attempts: Annotated[int, Field(ge=1, le=limits.MAX_MAX_ATTEMPTS)] | None = None


class LearningStepIn(Request):
    """One step of an ``education`` ``learning_chain``."""

    step: Annotated[Text, Field(min_length=1, max_length=limits.MAX_STEP_NAME_CHARS)]
    action: Annotated[Text, Field(max_length=limits.MAX_STEP_DESCRIPTION_CHARS)] = ""


class InlineCapabilityIn(Request):
    """A capability defined by the request itself."""

    name: Annotated[Text, Field(min_length=1, max_length=50)]
    checklist: Annotated[StrList, Field(min_length=1, max_length=limits.MAX_CHECKLIST_ITEMS)]
    sections: Annotated[StrList, Field(min_length=1, max_length=limits.MAX_SECTIONS_PER_CAPABILITY)]


class ChainRequest(Request):
    """A request to run or start a chain: the original plugin's input, plus inline capabilities."""

    task_type: Annotated[TaskType, BeforeValidator(_lower)]
    target: Annotated[Text, Field(min_length=1, max_length=limits.MAX_TARGET_CHARS)]
    config: ConfigIn = ConfigIn()
    custom_chain: Annotated[list[CustomStepIn], Field(max_length=limits.MAX_STEPS)] | None = None
    learning_chain: Annotated[list[LearningStepIn], Field(max_length=limits.MAX_STEPS)] | None = (
        None
    )
    capabilities: (
        Annotated[list[InlineCapabilityIn], Field(max_length=limits.MAX_INLINE_CAPABILITIES)] | None
    ) = None
    continue_on_failure: bool | None = None

    @property
    def keep_going(self) -> bool:
        """Whether a failed step lets the rest of the chain go on (default: yes)."""
        for flag in (self.continue_on_failure, self.config.continue_on_failure):
            if flag is not None:
                return flag
        return True


class SubmitIn(Request):
    """A step output submitted by a model."""

    output: Annotated[Text, Field(min_length=1, max_length=limits.MAX_OUTPUT_CHARS)]
    expected_version: Annotated[int, Field(ge=1)] | None = None


class SkipIn(Request):
    """A request to skip a step, with the reason recorded as a gap."""

    reason: Annotated[Text, Field(max_length=limits.MAX_REASON_CHARS)] = ""
    expected_version: Annotated[int, Field(ge=1)] | None = None


M = TypeVar("M", bound=BaseModel)

# A custom or learning chain that is too long, or not a list of steps, is a chain error.
_CHAINS = {"custom_chain": '{"name": "…"}', "learning_chain": '{"step": "…"}'}
_NOT_A_LIST = frozenset({"list_type"})
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``; raise :class:`InvalidRequestError` with a precise code.

    A missing or empty required field is ``MISSING_REQUIRED_FIELD``, an unknown task type
    ``INVALID_TASK_TYPE``, a chain over 20 steps or that is not a list of steps
    ``INVALID_CUSTOM_CHAIN``, anything else ``INVALID_FIELD``; the field's path is in
    ``details["field"]``. Messages are wholly Chinese or wholly English.
    """
    if not isinstance(data, dict):
        raise InvalidRequestError(
            "请求体必须是 JSON 对象", "the request body must be a JSON object", code="INVALID_FIELD"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise translate(exc) from None


def translate(exc: ValidationError) -> InvalidRequestError:
    """The :class:`InvalidRequestError` for the first problem pydantic found."""
    from taskchain.errors import chain_error  # local: keeps the import graph of errors flat

    error = exc.errors(include_url=False)[0]
    loc = error["loc"]
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
    if kind in ("string_too_long", "too_long"):
        limit = ctx.get("max_length")
        return invalid_field(
            path, f"超过上限 {limit}", f"longer than the limit of {limit}", limit=limit
        )
    details: dict[str, Any] = {}
    if kind in ("literal_error", "enum"):
        details["allowed"] = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
    return invalid_field(path, _chinese(kind, ctx, details), str(error["msg"]), **details)


def _number(value: Any) -> str:
    """``1.0`` as ``1``; other values as they are."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


# Pydantic's error types in Chinese (the English message is pydantic's own).
_CHINESE = {
    "missing": "缺少该字段",
    "string_type": "应为字符串",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数，不能带小数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为数字",
    "finite_number": "应为有限的数字",
    "bool_type": "应为布尔值（true 或 false）",
    "bool_parsing": "应为布尔值（true 或 false）",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "set_type": "应为列表",
    "frozen_set_type": "应为列表",
    "iterable_type": "应为列表",
    "dict_type": "应为对象（JSON 对象）",
    "mapping_type": "应为对象（JSON 对象）",
    "model_type": "应为对象（JSON 对象）",
    "model_attributes_type": "应为对象（JSON 对象）",
    "none_required": "应为 null",
    "extra_forbidden": "不允许的字段（这里没有这个字段）",
    "json_invalid": "不是有效的 JSON",
    "json_type": "应为 JSON 文本",
    "string_unicode": "应为有效的 Unicode 文本",
}
# Those that carry a bound or a pattern: (context key, template).
_CHINESE_WITH = {
    "greater_than": ("gt", "应大于 {}"),
    "greater_than_equal": ("ge", "应不小于 {}"),
    "less_than": ("lt", "应小于 {}"),
    "less_than_equal": ("le", "应不大于 {}"),
    "multiple_of": ("multiple_of", "应为 {} 的倍数"),
    "string_too_short": ("min_length", "至少 {} 个字符"),
    "too_short": ("min_length", "至少 {} 项"),
    "string_too_long": ("max_length", "最多 {} 个字符"),
    "too_long": ("max_length", "最多 {} 项"),
    "string_pattern_mismatch": ("pattern", "格式不符合要求（应匹配 {}）"),
}


def _chinese(kind: str, ctx: dict[str, Any], details: dict[str, Any]) -> str:
    """The Chinese wording of a pydantic error, with its context values."""
    if "allowed" in details:
        return "应为以下之一：" + "、".join(details["allowed"])
    if kind in _CHINESE_WITH:
        key, template = _CHINESE_WITH[kind]
        return template.format(_number(ctx.get(key, "?")))
    return _CHINESE.get(kind, "值无效")


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
