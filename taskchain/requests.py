"""Request models: what callers send, parsed leniently and translated into precise errors."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from taskchain import limits
from taskchain.errors import InvalidRequestError
from taskchain.models import Depth, ExecutionMode, Language, TaskType, ValidationRules
from taskchain.request_errors import translate
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

    depth: Annotated[Depth, BeforeValidator(_lower)] = Field(
        default="detailed",
        description="详细程度：basic 基础、detailed 详细（默认）、comprehensive 全面（depth）",
    )
    focus_areas: Annotated[
        list[Annotated[Text, Field(min_length=1, max_length=limits.MAX_FOCUS_AREA_CHARS)]],
        BeforeValidator(_string_list),
        Field(max_length=limits.MAX_FOCUS_AREAS),
    ] = Field(
        default=[],
        description='重点关注的方面，最多 10 个，例如 ["成本", "客户留存"]（focus areas）',
    )
    language: Annotated[Language, BeforeValidator(_language)] = Field(
        default="zh", description="输出语言：zh 中文（默认）或 en 英文（language）"
    )
    execution_mode: Annotated[ExecutionMode, BeforeValidator(_lower)] = Field(
        default="sequential",
        description="执行方式：sequential 顺序（默认）或 parallel 无依赖的步骤同时就绪（execution mode）",
    )
    continue_on_failure: bool | None = Field(
        default=None,
        description="某一步失败后是否继续后续步骤（keep going after a failed step）",
    )


class CustomStepIn(Request):
    """One step of a ``custom_chain``."""

    id: Annotated[Text, Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")] | None = Field(
        default=None,
        description="步骤 ID，字母、数字、下划线、点或连字符；省略时自动生成（step id）",
    )
    name: Annotated[Text, Field(min_length=1, max_length=limits.MAX_STEP_NAME_CHARS)] = Field(
        description="步骤名称（step name）"
    )
    description: Annotated[Text, Field(max_length=limits.MAX_STEP_DESCRIPTION_CHARS)] = Field(
        default="", description="这一步要做什么（what the step does）"
    )
    required_capabilities: Annotated[
        StrList, Field(max_length=limits.MAX_CAPABILITIES_PER_STEP)
    ] = Field(default=[], description="需要的能力名称，如 理解分析、信息收集（capability names）")
    dependencies: StrList = Field(
        default=[], description="依赖的步骤 ID（ids of the steps this one depends on）"
    )
    validation_rules: ValidationRules | None = Field(
        default=None, description="这一步的检查规则，省略则用默认规则（validation rules）"
    )
    max_attempts: Annotated[int, Field(ge=1, le=limits.MAX_MAX_ATTEMPTS)] | None = Field(
        default=None, description="最多提交次数，1 到 10（max attempts）"
    )


class LearningStepIn(Request):
    """One step of an ``education`` ``learning_chain``."""

    step: Annotated[Text, Field(min_length=1, max_length=limits.MAX_STEP_NAME_CHARS)] = Field(
        description="学习步骤名称（step name）"
    )
    action: Annotated[Text, Field(max_length=limits.MAX_STEP_DESCRIPTION_CHARS)] = Field(
        default="", description="学习者在这一步要做的事（what the learner does）"
    )


class InlineCapabilityIn(Request):
    """A capability defined by the request itself."""

    name: Annotated[Text, Field(min_length=1, max_length=50)] = Field(
        description="能力名称（capability name）"
    )
    checklist: Annotated[StrList, Field(min_length=1, max_length=limits.MAX_CHECKLIST_ITEMS)] = (
        Field(description="检查清单条目（checklist items）")
    )
    sections: Annotated[
        StrList, Field(min_length=1, max_length=limits.MAX_SECTIONS_PER_CAPABILITY)
    ] = Field(description="产出必须包含的小节标题（required section titles）")


_KEEP_GOING_DOC = "某一步失败后是否继续后续步骤，默认继续（keep going after a failed step）"


class ChainRequest(Request):
    """A request to run or start a chain: the original plugin's input, plus inline capabilities."""

    task_type: Annotated[TaskType, BeforeValidator(_lower)] = Field(
        description="任务类型（task type）：analysis 分析、creative 创作、education 教学、research 研究、"
        "custom 自定义（需同时给出 custom_chain）"
    )
    target: Annotated[Text, Field(min_length=1, max_length=limits.MAX_TARGET_CHARS)] = Field(
        description="要完成的目标或要分析的对象，尽量用用户的原话（the goal, in the user's words）"
    )
    config: ConfigIn = Field(
        default=ConfigIn(), description="任务链配置：详细程度、关注点、语言（chain configuration）"
    )
    custom_chain: Annotated[list[CustomStepIn], Field(max_length=limits.MAX_STEPS)] | None = Field(
        default=None,
        description="自定义步骤，仅 task_type=custom 时使用，最多 20 步（custom steps, task_type=custom only）",
    )
    learning_chain: Annotated[list[LearningStepIn], Field(max_length=limits.MAX_STEPS)] | None = (
        Field(
            default=None,
            description="教学任务的学习步骤，仅 task_type=education 时可选（learning steps for education）",
        )
    )
    capabilities: (
        Annotated[list[InlineCapabilityIn], Field(max_length=limits.MAX_INLINE_CAPABILITIES)] | None
    ) = Field(
        default=None,
        description="自定义能力（检查清单和必需小节），可被 custom_chain 的 required_capabilities 引用"
        "（inline capabilities）",
    )
    continue_on_failure: bool | None = Field(default=None, description=_KEEP_GOING_DOC)

    @property
    def keep_going(self) -> bool:
        """Whether a failed step lets the rest of the chain go on (default: yes)."""
        for flag in (self.continue_on_failure, self.config.continue_on_failure):
            if flag is not None:
                return flag
        return True


_VERSION_DOC = "可选：上次返回的 version，用于防止并发覆盖（optional: the version you last saw）"


class SubmitIn(Request):
    """A step output submitted by a model."""

    output: Annotated[Text, Field(min_length=1, max_length=limits.MAX_OUTPUT_CHARS)] = Field(
        description="本步骤的完整输出（Markdown，按 required_sections 的标题组织小节，覆盖 checklist 和 "
        "focus_areas，满足 rules 中的每条规则）（the step's full output, in Markdown sections, "
        "meeting every rule）"
    )
    expected_version: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description=_VERSION_DOC
    )


class SkipIn(Request):
    """A request to skip a step, with the reason recorded as a gap."""

    reason: Annotated[Text, Field(max_length=limits.MAX_REASON_CHARS)] = Field(
        default="", description="跳过的原因，会写入报告的缺口（why the step is skipped）"
    )
    expected_version: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description=_VERSION_DOC
    )


# Query values the routes share (``Annotated`` so a route can add where the value comes from).
ReportFormat = Literal["json", "markdown"]
PageSize = Annotated[
    int,
    Field(
        ge=1,
        le=limits.MAX_PAGE_SIZE,
        description=f"每页数量，1 到 {limits.MAX_PAGE_SIZE}，默认 {limits.DEFAULT_PAGE_SIZE}（page size）",
    ),
]
Cursor = Annotated[
    str,
    Field(
        max_length=limits.MAX_CURSOR_CHARS,
        description="上一页返回的 next_cursor，第一页不填（cursor from the previous page）",
    ),
]


M = TypeVar("M", bound=BaseModel)


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
        raise translate(exc.errors(include_url=False)) from None
