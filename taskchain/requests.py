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

# Chain requests whose custom chain is too long are a chain error, not a field error.
_TOO_LONG_CHAIN = {"custom_chain", "learning_chain"}


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``; raise :class:`InvalidRequestError` with a precise code.

    A missing or empty required field is ``MISSING_REQUIRED_FIELD``, an unknown task type
    ``INVALID_TASK_TYPE``, a chain over 20 steps ``INVALID_CUSTOM_CHAIN``, anything else
    ``INVALID_FIELD``; the field's path is in ``details["field"]``.
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
    if kind == "too_long" and path in _TOO_LONG_CHAIN:
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
    return invalid_field(path, str(error["msg"]), str(error["msg"]))


def _path(loc: tuple[int | str, ...]) -> str:
    """``("custom_chain", 2, "name")`` as ``custom_chain[2].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "list[", "str")):
            out += f".{part}" if out else part
    return out or "body"
