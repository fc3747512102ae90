"""Request models: what callers send, validated exactly (HTTP) or leniently (``parse``), and
translated into precise errors. The field types are in :mod:`taskchain.request_fields`."""

from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from taskchain import limits
from taskchain.capabilities import MAX_CHECKLIST_ITEM_CHARS, MAX_SECTION_TITLE_CHARS
from taskchain.errors import InvalidRequestError
from taskchain.modelbase import Model
from taskchain.models import (
    Depth,
    ExecutionMode,
    ExecutorName,
    Language,
    TaskType,
    ValidationRules,
)
from taskchain.request_errors import translate
from taskchain.request_fields import (
    ID_PATTERN,
    LENIENT,
    Clean,
    Flag,
    Items,
    LanguageWord,
    Number,
    Text,
    Whole,
    Word,
)

StrList = Annotated[list[Text], Items]
CURSOR_FORMAT = "taskchain-cursor"


class Request(Model):
    """Base of request models: exact types (lenient under ``parse``), ignores unknown fields."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ConfigIn(Request):
    """``config`` of a chain request."""

    depth: Annotated[Depth, Word] = Field(
        default="detailed",
        description="详细程度：basic 基础、detailed 详细（默认）、comprehensive 全面（depth）",
    )
    focus_areas: Annotated[
        list[Annotated[str, Clean(1, limits.MAX_FOCUS_AREA_CHARS)]],
        Items,
        Field(max_length=limits.MAX_FOCUS_AREAS),
    ] = Field(
        default=[],
        description='重点关注的方面，最多 10 个，例如 ["成本", "客户留存"]（focus areas）',
    )
    language: Annotated[Language, LanguageWord] = Field(
        default="zh", description="输出语言：zh 中文（默认）或 en 英文（language）"
    )
    execution_mode: Annotated[ExecutionMode, Word] = Field(
        default="sequential",
        description="执行方式：sequential 顺序（默认）或 parallel 无依赖的步骤同时就绪（execution mode）",
    )
    continue_on_failure: Flag | None = Field(
        default=None,
        description="某一步失败后是否继续后续步骤（keep going after a failed step）",
    )
    executor: Annotated[ExecutorName, Word] | None = Field(
        default=None,
        description="一次跑完（run）时由谁写各步骤：llm 用服务配置的模型作答，builtin 只写待填写的提纲；"
        "省略时配置了模型就用 llm，否则 builtin；引导式会话的步骤由调用方提交，不使用这个字段"
        "（who writes the steps of a run: the configured model, or the builtin outline writer; by "
        "default llm when a model is configured; a guided session does not use it）",
    )


def _described(name: str) -> Any:
    """The description :class:`ValidationRules` gives its field ``name``."""
    return ValidationRules.model_fields[name].description


class ValidationRulesIn(ValidationRules):
    """Per-step overrides of the objective checks (``None`` keeps the default).

    :class:`ValidationRules` as a request gives them: exact types (lenient under ``parse``).
    """

    min_length: Annotated[int, Whole(ge=0)] | None = Field(
        default=None, description=_described("min_length")
    )
    max_length: Annotated[int, Whole(ge=1)] | None = Field(
        default=None, description=_described("max_length")
    )
    require_focus_areas: Flag = Field(default=True, description=_described("require_focus_areas"))
    max_similarity: Annotated[float, Number(gt=0, le=1)] = Field(
        default=0.65, description=_described("max_similarity")
    )


def _rules(rules: ValidationRulesIn) -> ValidationRules:
    """The plain :class:`ValidationRules` the chain keeps (already validated)."""
    return ValidationRules.model_construct(**dict(rules))


class CustomStepIn(Request):
    """One step of a ``custom_chain``."""

    id: Annotated[str, Clean(1, 64, pattern=ID_PATTERN)] | None = Field(
        default=None,
        description="步骤 ID，字母、数字、下划线、点或连字符；省略时自动生成（step id）",
    )
    name: Annotated[str, Clean(1, limits.MAX_STEP_NAME_CHARS)] = Field(
        description="步骤名称（step name）"
    )
    description: Annotated[str, Clean(0, limits.MAX_STEP_DESCRIPTION_CHARS)] = Field(
        default="", description="这一步要做什么（what the step does）"
    )
    required_capabilities: Annotated[
        StrList, Field(max_length=limits.MAX_CAPABILITIES_PER_STEP)
    ] = Field(default=[], description="需要的能力名称，如 理解分析、信息收集（capability names）")
    dependencies: StrList = Field(
        default=[], description="依赖的步骤 ID（ids of the steps this one depends on）"
    )
    validation_rules: Annotated[ValidationRulesIn, AfterValidator(_rules)] | None = Field(
        default=None, description="这一步的检查规则，省略则用默认规则（validation rules）"
    )
    max_attempts: Annotated[int, Whole(1, limits.MAX_MAX_ATTEMPTS)] | None = Field(
        default=None, description="最多提交次数，1 到 10（max attempts）"
    )


class LearningStepIn(Request):
    """One step of an ``education`` ``learning_chain``."""

    step: Annotated[str, Clean(1, limits.MAX_STEP_NAME_CHARS)] = Field(
        description="学习步骤名称（step name）"
    )
    action: Annotated[str, Clean(0, limits.MAX_STEP_DESCRIPTION_CHARS)] = Field(
        default="", description="学习者在这一步要做的事（what the learner does）"
    )


class InlineCapabilityIn(Request):
    """A capability defined by the request itself."""

    name: Annotated[str, Clean(1, 50)] = Field(description="能力名称（capability name）")
    checklist: Annotated[
        list[Annotated[str, Clean(1, MAX_CHECKLIST_ITEM_CHARS)]],
        Items,
        Field(min_length=1, max_length=limits.MAX_CHECKLIST_ITEMS),
    ] = Field(description="检查清单条目（checklist items）")
    sections: Annotated[
        list[Annotated[str, Clean(1, MAX_SECTION_TITLE_CHARS)]],
        Items,
        Field(min_length=1, max_length=limits.MAX_SECTIONS_PER_CAPABILITY),
    ] = Field(description="产出必须包含的小节标题，互不相同（required section titles, distinct）")


_KEEP_GOING_DOC = "某一步失败后是否继续后续步骤，默认继续（keep going after a failed step）"


class ChainRequest(Request):
    """A request to run or start a chain: the original plugin's input, plus inline capabilities."""

    task_type: Annotated[TaskType, Word] = Field(
        description="任务类型（task type）：analysis 分析、creative 创作、education 教学、research 研究、"
        "custom 自定义（需同时给出 custom_chain）"
    )
    target: Annotated[str, Clean(1, limits.MAX_TARGET_CHARS)] = Field(
        description="要完成的目标或要分析的对象，尽量用用户的原话（the goal, in the user's words）"
    )
    config: ConfigIn = Field(
        default=ConfigIn(), description="任务链配置：详细程度、关注点、语言（chain configuration）"
    )
    custom_chain: Annotated[list[CustomStepIn], Field(max_length=limits.MAX_STEPS)] | None = Field(
        default=None,
        description="自定义步骤，最多 20 步；task_type=custom 时必填，给出时任何任务类型都按它执行"
        "（custom steps, at most 20: required with task_type=custom, used whatever the task type）",
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
    continue_on_failure: Flag | None = Field(default=None, description=_KEEP_GOING_DOC)

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

    output: Annotated[str, Clean(1, limits.MAX_OUTPUT_CHARS)] = Field(
        description="本步骤的完整输出（Markdown，按 required_sections 的标题组织小节，覆盖 checklist 和 "
        "focus_areas，满足 rules 中的每条规则）（the step's full output, in Markdown sections, "
        "meeting every rule）"
    )
    expected_version: Annotated[int, Whole(ge=1)] | None = Field(
        default=None, description=_VERSION_DOC
    )


class SkipIn(Request):
    """A request to skip a step, with the reason recorded as a gap."""

    reason: Annotated[str, Clean(0, limits.MAX_REASON_CHARS)] = Field(
        default="", description="跳过的原因，会写入报告的缺口（why the step is skipped）"
    )
    expected_version: Annotated[int, Whole(ge=1)] | None = Field(
        default=None, description=_VERSION_DOC
    )


# Query values the routes share (``Annotated`` so a route can add where the value comes from).
ReportFormat = Literal["json", "markdown"]
_PAGE = Field(
    description=f"每页数量，1 到 {limits.MAX_PAGE_SIZE}，默认 {limits.DEFAULT_PAGE_SIZE}（page size）"
)
PageSize = Annotated[int, Whole(1, limits.MAX_PAGE_SIZE), _PAGE]
QueryPageSize = Annotated[int, Whole(1, limits.MAX_PAGE_SIZE, query=True), _PAGE]
# Opaque: only a next_cursor this service returned is one (the format says so; any other string
# is refused with INVALID_FIELD).
Cursor = Annotated[
    str,
    Field(
        max_length=limits.MAX_CURSOR_CHARS,
        description="上一页返回的 next_cursor，第一页不填（cursor from the previous page）",
        json_schema_extra={"format": CURSOR_FORMAT},
    ),
]


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``; raise :class:`InvalidRequestError` with a precise code.

    Lenient (:data:`~taskchain.request_fields.LENIENT`): the one-shot contract and the CLI take
    the forgiving spellings the HTTP API does not. A missing or empty required field is ``MISSING_REQUIRED_FIELD``, an unknown task type
    ``INVALID_TASK_TYPE``, a chain over 20 steps or that is not a list of steps
    ``INVALID_CUSTOM_CHAIN``, anything else ``INVALID_FIELD``; the field's path is in
    ``details["field"]``. Messages are wholly Chinese or wholly English.
    """
    if not isinstance(data, dict):
        raise InvalidRequestError(
            "请求体必须是 JSON 对象", "the request body must be a JSON object", code="INVALID_FIELD"
        )
    try:
        return model.model_validate(data, context=LENIENT)
    except ValidationError as exc:
        raise translate(exc.errors(include_url=False)) from None
