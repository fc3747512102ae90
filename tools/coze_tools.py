"""What Coze shows the model: the tools, their descriptions, and the answers they document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from taskchain.guidance import StepGuidance
from taskchain.http.coze import ListSessions, ReportOf, SessionRef, SkipStep, SubmitStep
from taskchain.models import Feedback
from taskchain.report import Gap, QualityMetrics, Report, ReportItem, StepResult
from taskchain.requests import ChainRequest, Request
from taskchain.store import SessionSummary

# --- what the routes return, for the document only --------------------------------------------


class TemplatesQuery(Request):
    """The query of ``GET /coze/templates`` (the route takes them as separate query parameters)."""

    category: Annotated[str, Field(max_length=50)] | None = None
    search: Annotated[str, Field(max_length=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] | None = None
    language: Literal["zh", "en"] | None = None


class ErrorDetails(BaseModel):
    """The keys an error's ``details`` can carry (Coze drops keys a schema does not declare)."""

    field: str | None = None
    session_id: str | None = None
    step_id: str | None = None
    status: str | None = None
    state: str | None = None
    steps: list[str] | None = None
    ready_steps: list[str] | None = None
    expected_version: int | None = None
    current_version: int | None = None
    allowed: list[str] | None = None
    limit: int | None = None
    cycle: list[str] | None = None
    retry_after: float | None = None
    reason: str | None = None


class Envelope(BaseModel):
    """Every Coze answer: the success flag, and on business errors the error fields."""

    success: bool = Field(
        description="true 表示成功；false 表示业务错误，请读 error_code 和 error（false: a business error）"
    )
    error_code: str | None = Field(
        None,
        description="错误码，如 MISSING_REQUIRED_FIELD、STEP_NOT_READY、STALE_VERSION（error code）",
    )
    category: str | None = Field(None, description="错误类别（error category）")
    error: str | None = Field(
        None, description="错误说明：出了什么问题、怎样改正（what went wrong and how to fix it）"
    )
    details: ErrorDetails | None = Field(None, description="错误的结构化细节（error details）")


_STATUS_DOC = (
    "会话状态：active 进行中；completed 全部步骤完成；completed_with_gaps 已结束但有步骤被跳过或失败；"
    "failed 没有步骤完成，或按设置在失败后停止。只有 active 可以继续提交（session status）"
)


class Progress(BaseModel):
    """Step counts of a session."""

    completed: int
    failed: int
    skipped: int
    total: int


class StepLine(BaseModel):
    """One step of the chain in a session view."""

    step_id: str
    name: str
    state: str
    dependencies: list[str]


class FinishedStep(BaseModel):
    """A finished step in one line."""

    step_id: str
    name: str
    state: str
    summary: str | None
    attempts: int


class SessionOut(Envelope):
    """A session view: answered by startSession, getStatus and skipStep."""

    session_id: str = Field(description="会话 ID，后续调用都要带上（session id）")
    version: int = Field(description="会话版本，每次修改加 1（session version）")
    status: str = Field(description=_STATUS_DOC)
    task_type: str = Field(description="任务类型（task type）")
    target: str = Field(description="目标（goal）")
    language: str = Field(description="输出语言 zh 或 en（language）")
    depth: str = Field(description="详细程度（depth）")
    focus_areas: list[str] = Field(description="关注点（focus areas）")
    execution_mode: str = Field(description="执行方式（execution mode）")
    progress: Progress = Field(description="各状态的步骤数（step counts）")
    steps: list[StepLine] = Field(description="全部步骤及其状态和依赖（all steps）")
    finished_steps: list[FinishedStep] = Field(
        description="已结束步骤的一行摘要（finished steps, one line each）"
    )
    ready_steps: list[StepGuidance] = Field(
        description="现在可以做的步骤及其写作指引（ready steps with their guidance）"
    )
    briefing: str = Field(description="恢复简报：目标、进度、下一步（resume briefing）")
    created_at: str = Field(description="创建时间，ISO 8601（created at）")
    updated_at: str = Field(description="更新时间，ISO 8601（updated at）")
    expires_at: str | None = Field(description="过期时间，ISO 8601（expires at）")


class SubmitOut(Envelope):
    """The verdict on a submitted output."""

    session_id: str = Field(description="会话 ID（session id）")
    step_id: str = Field(description="提交的步骤 ID（step id）")
    accepted: bool = Field(
        description="true 表示通过；false 表示被退回，按 feedback 修改后重交（accepted）"
    )
    step_state: str = Field(description="该步骤现在的状态（step state）")
    attempts: int = Field(description="该步骤已提交次数（attempts）")
    attempts_left: int = Field(description="还可提交的次数（attempts left）")
    feedback: list[Feedback] = Field(
        description="逐条检查结果，passed=false 的要按 hint 修改（check results）"
    )
    version: int = Field(description="会话新版本（new session version）")
    status: str = Field(description=_STATUS_DOC)
    progress: Progress = Field(description="各状态的步骤数（step counts）")
    newly_ready: list[str] = Field(description="本次提交后新就绪的步骤 ID（newly ready steps）")
    ready_steps: list[StepGuidance] = Field(
        description="现在可以做的步骤及其写作指引（ready steps with their guidance）"
    )


class ReportOut(Envelope):
    """A report: Markdown (the default on Coze) or the JSON fields."""

    session_id: str = Field(description="会话 ID（session id）")
    partial: bool = Field(description="true 表示还有步骤未结束，这是部分报告（partial report）")
    markdown: str | None = Field(
        None, description="format=markdown 时的完整报告，可直接展示（the report as Markdown）"
    )
    executive_summary: str | None = Field(None, description="执行摘要（executive summary）")
    target_analysis: dict[str, Any] | None = Field(None, description="目标分析（target analysis）")
    key_findings: list[ReportItem] | None = Field(
        None, description="关键发现及来源步骤（key findings）"
    )
    detailed_results: dict[str, StepResult] | None = Field(
        None, description="各步骤结果（step results, by step id）"
    )
    recommendations: list[ReportItem] | None = Field(
        None, description="建议及来源步骤（recommendations）"
    )
    quality_metrics: QualityMetrics | None = Field(None, description="质量指标（quality metrics）")
    gaps: list[Gap] | None = Field(None, description="缺口：跳过、失败或未覆盖的部分（gaps）")
    status: str | None = Field(None, description=_STATUS_DOC)
    content: Literal["outline", "answers"] | None = Field(
        None,
        description="outline 表示各步骤只是待填写的提纲、没有结论；answers 表示真实作答（outline or answers）",
    )
    language: str | None = Field(None, description="报告语言（language）")
    generated_at: float | None = Field(None, description="生成时间，Unix 秒（generated at）")


class ExecutionResult(BaseModel):
    """One step of a one-shot run (the original plugin's shape)."""

    task_id: str
    name: str
    status: str
    output: str | None
    error_message: str | None
    execution_time: float
    timestamp: str | None
    attempts: int
    executor: str | None


class ExecutionSummary(BaseModel):
    """Counts of a one-shot run."""

    total_tasks: int
    completed_tasks: int
    failed_tasks: int
    skipped_tasks: int
    total_execution_time: float


class RunOut(Envelope):
    """A whole chain run in one call (the original plugin's response)."""

    content: Literal["outline", "answers"] = Field(
        description="outline 表示内置执行器只写了待填写的提纲、没有结论，需要逐步作答；"
        "answers 表示各步骤是真实作答（outline: questions to answer, no findings）"
    )
    session_id: str = Field(description="会话 ID（session id）")
    task_type: str = Field(description="任务类型（task type）")
    target: str = Field(description="目标（goal）")
    execution_results: list[ExecutionResult] = Field(description="各步骤结果（step results）")
    final_report: Report = Field(description="最终报告（final report）")
    execution_summary: ExecutionSummary = Field(description="执行统计（execution summary）")


class SessionsOut(Envelope):
    """A page of the caller's sessions."""

    sessions: list[SessionSummary] = Field(description="会话列表，最新在前（sessions）")
    next_cursor: str | None = Field(
        description="下一页游标，传给 cursor；为空表示没有更多（next page cursor）"
    )


class TemplateStep(BaseModel):
    """A step of a built-in template."""

    id: str
    name: str


class TemplateOut(BaseModel):
    """A built-in template in the catalogue."""

    key: str
    name: str
    description: str
    category: str
    tags: list[str]
    steps: list[TemplateStep]


class TemplatesOut(Envelope):
    """The built-in templates."""

    templates: list[TemplateOut] = Field(description="模板列表（templates）")
    count: int = Field(description="模板数量（count）")


# --- what the model reads: tool descriptions and field descriptions ----------------------------

# Coze shows the model each tool's operationId and summary, so the summary says when to call it.
OPERATION_DOCS: Mapping[str, tuple[str, str]] = {
    "startSession": (
        "开始一个引导式任务链：用户提出需要分步完成的目标时首先调用，返回 session_id 和第一批 ready_steps",
        "开始引导式会话（start a guided session）。用户给出一个需要分步完成的目标（分析、创作、教学、研究或自定义）时首先调用。"
        "返回 session_id、version 和 ready_steps：每个就绪步骤带有 instructions（写作指引）、checklist（检查清单）、"
        "required_sections（必须包含的小节标题）、min_length / max_length 和 rules（提交后逐条检查的规则）。"
        "接着为每个就绪步骤写出完整产出并调用 submitStep。"
        "Call this first when the user states a goal; then write each ready step and submit it with submitStep.",
    ),
    "submitStep": (
        "写完一个就绪步骤的完整产出后调用，提交并接受检查；accepted=false 时按 feedback 的 hint 修改后重新提交同一步骤",
        "提交 ready_steps 中一个步骤的完整产出（submit a ready step's output）。产出要遵循该步骤的 instructions、"
        "checklist 和 required_sections（用 Markdown 二级标题组织小节），覆盖 focus_areas，并满足 rules 中的每条规则。返回 accepted："
        "true 表示通过，继续处理返回的 ready_steps；false 表示被退回，按 feedback 中 passed=false 各条的 hint 修改后"
        "再次提交同一步骤（attempts_left 为剩余次数）。不要提交未就绪的步骤，也不要跳步。"
        "When accepted=false, fix the output per each failed check's hint and resubmit the same step.",
    ),
    "getStatus": (
        "查看会话进度和恢复简报；忘记进度、用户回来继续、或提交报 STALE_VERSION / STEP_NOT_READY 时调用",
        "返回会话的目标、进度、已结束步骤的一行摘要（finished_steps）、briefing（恢复简报）和当前 ready_steps"
        "（status and resume briefing）。上下文丢失、用户稍后回来继续、或 submitStep 报版本冲突或步骤未就绪时调用，"
        "然后按 ready_steps 继续。Call it when you lost track, the user comes back, or a submit reports a conflict.",
    ),
    "skipStep": (
        "跳过一个无法完成的步骤并记录原因（报告中列为缺口）；只在用户同意或多次修改仍无法通过时调用",
        "跳过一个步骤，原因记为报告中的缺口（skip a step; the reason becomes a gap in the report）。"
        "只在用户明确要求、或多次修改仍无法通过时调用。返回更新后的会话和 ready_steps。"
        "Use only when the user agrees or the step truly cannot be done.",
    ),
    "getReport": (
        "获取会话报告（默认 Markdown，每条结论注明来源步骤）；status 不再是 active 后调用并把报告呈现给用户",
        "生成会话报告（get the report）。status 不再是 active（completed、completed_with_gaps 或 failed）后调用；"
        "进行中调用得到部分报告（partial=true）。"
        "默认 format=markdown，返回可直接展示的 markdown，关键发现和建议都注明来自哪个步骤；format=json 返回结构化字段。"
        "Call it when the session is no longer active and show the markdown, with its step references, to the user.",
    ),
    "listSessions": (
        "列出当前用户的会话（最新在前）；用户想继续以前的任务但不知道 session_id 时调用",
        "列出调用者的会话，最新在前，分页（list the caller's sessions, newest first）。用户想继续以前的任务时调用，"
        "选出 session_id 后调用 getStatus 继续。Use it to find a session to resume.",
    ),
    "listTemplates": (
        "查看内置任务链模板（分析、创作、教学、研究）及其步骤；不确定该用哪种 task_type 时调用",
        "列出内置模板：key（即 task_type）、名称、说明、标签和步骤（list the built-in chains）。"
        "不确定哪种 task_type 适合用户的目标时调用。Use it to choose a task_type.",
    ),
    "runChain": (
        "一次性运行整条任务链并返回报告（原插件接口，内置执行器只写提纲）；仅在用户只要快速草稿时调用",
        "一次调用跑完整条任务链（run a whole chain in one call; the original plugin's contract）。步骤由内置执行器写成提纲，"
        "质量不如逐步写作；用户要认真完成的任务请用 startSession。Prefer startSession for real work.",
    ),
}

# Field descriptions by model and field: Chinese for the model, English in parentheses.
FIELD_DOCS: Mapping[str, Mapping[str, str]] = {
    "ChainRequest": {
        "task_type": "任务类型（task type）：analysis 分析、creative 创作、education 教学、research 研究、"
        "custom 自定义（需同时给出 custom_chain）",
        "target": "要完成的目标或要分析的对象，尽量用用户的原话（the goal, in the user's words）",
        "config": "任务链配置：详细程度、关注点、语言（chain configuration）",
        "custom_chain": "自定义步骤，仅 task_type=custom 时使用，最多 20 步（custom steps, task_type=custom only）",
        "learning_chain": "教学任务的学习步骤，仅 task_type=education 时可选（learning steps for education）",
        "capabilities": "自定义能力（检查清单和必需小节），可被 custom_chain 的 required_capabilities 引用"
        "（inline capabilities）",
        "continue_on_failure": "某一步失败后是否继续后续步骤，默认继续（keep going after a failed step）",
    },
    "ConfigIn": {
        "depth": "详细程度：basic 基础、detailed 详细（默认）、comprehensive 全面（depth）",
        "focus_areas": '重点关注的方面，最多 10 个，例如 ["成本", "客户留存"]（focus areas）',
        "language": "输出语言：zh 中文（默认）或 en 英文（language）",
        "execution_mode": "执行方式：sequential 顺序（默认）或 parallel 无依赖的步骤同时就绪（execution mode）",
        "continue_on_failure": "某一步失败后是否继续后续步骤（keep going after a failed step）",
    },
    "CustomStepIn": {
        "id": "步骤 ID，字母、数字、下划线、点或连字符；省略时自动生成（step id）",
        "name": "步骤名称（step name）",
        "description": "这一步要做什么（what the step does）",
        "required_capabilities": "需要的能力名称，如 理解分析、信息收集（capability names）",
        "dependencies": "依赖的步骤 ID（ids of the steps this one depends on）",
        "validation_rules": "这一步的检查规则，省略则用默认规则（validation rules）",
        "max_attempts": "最多提交次数，1 到 10（max attempts）",
    },
    "ValidationRules": {
        "min_length": "产出最少字数（minimum length）",
        "max_length": "产出最多字数（maximum length）",
        "required_sections": "必须包含的小节标题（required section titles）",
        "require_focus_areas": "是否要求具体讨论每个关注点，默认要求（require each focus area to be discussed）",
        "max_similarity": "与任一已完成步骤产出的实词重合比例上限，0 到 1，默认 0.65"
        "（maximum share of content words shared with an earlier output）",
        "skip_rules": "这一步关闭的检查规则 ID：focus_area、on_topic、no_filler、no_internal_repeat、"
        "language、not_repeat，或所用能力的检查（如 risks_rated）（rule ids switched off for this step）",
        "json_schema": "产出须符合的 JSON Schema（a JSON Schema the output must match）",
    },
    "LearningStepIn": {
        "step": "学习步骤名称（step name）",
        "action": "学习者在这一步要做的事（what the learner does）",
    },
    "InlineCapabilityIn": {
        "name": "能力名称（capability name）",
        "checklist": "检查清单条目（checklist items）",
        "sections": "产出必须包含的小节标题（required section titles）",
    },
    "SessionRef": {"session_id": "startSession 返回的会话 ID（session id）"},
    "SubmitStep": {
        "session_id": "startSession 返回的会话 ID（session id）",
        "step_id": "要提交的步骤 ID，必须是 ready_steps 中的一个（step id from ready_steps）",
        "output": "本步骤的完整输出（Markdown，按 required_sections 的标题组织小节，覆盖 checklist 和 focus_areas，"
        "满足 rules 中的每条规则）（the step's full output, in Markdown sections, meeting every rule）",
        "expected_version": "可选：上次返回的 version，用于防止并发覆盖（optional: the version you last saw）",
    },
    "SkipStep": {
        "session_id": "startSession 返回的会话 ID（session id）",
        "step_id": "要跳过的步骤 ID（step id）",
        "reason": "跳过的原因，会写入报告的缺口（why the step is skipped）",
        "expected_version": "可选：上次返回的 version（optional: the version you last saw）",
    },
    "ReportOf": {
        "session_id": "startSession 返回的会话 ID（session id）",
        "format": "报告格式：markdown（默认，可直接展示）或 json（report format）",
    },
    "ListSessions": {
        "limit": "每页数量，1 到 100，默认 20（page size）",
        "cursor": "上一页返回的 next_cursor，第一页不填（cursor from the previous page）",
    },
    "TemplatesQuery": {
        "category": "只看这个类别的模板（category filter）",
        "search": "按关键词搜索名称、说明和标签，中英文均可（search text）",
        "limit": "最多返回几个，1 到 100（at most this many）",
        "language": "展示语言：zh 或 en（display language）",
    },
    "StepGuidance": {
        "step_id": "步骤 ID，提交时作为 step_id（step id）",
        "name": "步骤名称（step name）",
        "instructions": "这一步的写作指引，照做即可通过检查（instructions）",
        "checklist": "产出要逐条覆盖的检查清单（checklist）",
        "required_sections": "产出必须包含的小节标题（required section titles）",
        "min_length": "最少字数（minimum length）",
        "max_length": "最多字数（maximum length）",
        "context": "所依赖步骤的产出摘要（digests of the steps this one depends on）",
        "rules": "提交后逐条检查的规则，全部通过才算完成；instructions 中以“- [规则 ID] 说明”列出"
        "（the rules the output is checked against, all of which must pass）",
    },
    "Rule": {
        "rule": "规则 ID，与 feedback 中的 rule 对应（rule id, as in feedback）",
        "kind": "规则类型（rule kind）",
        "severity": "error 表示不通过就会被退回（severity: error rejects the output）",
        "description": "怎样算通过，用会话语言写明（what passes, in the session's language）",
        "section": "规则针对的小节标题（the section the rule judges）",
        "area": "关注点（the focus area）",
    },
}


# --- the operations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One Coze tool: the route it calls, its input model and the answer it documents."""

    method: Literal["get", "post"]
    path: str
    operation_id: str
    request: type[BaseModel]  # the body of a POST, the query of a GET
    response: type[Envelope]


# In the order a model uses them: the guided flow first, the helpers after.
OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/coze/sessions/start", "startSession", ChainRequest, SessionOut),
    Operation("post", "/coze/sessions/submit", "submitStep", SubmitStep, SubmitOut),
    Operation("post", "/coze/sessions/status", "getStatus", SessionRef, SessionOut),
    Operation("post", "/coze/sessions/skip", "skipStep", SkipStep, SessionOut),
    Operation("post", "/coze/sessions/report", "getReport", ReportOf, ReportOut),
    Operation("post", "/coze/sessions/list", "listSessions", ListSessions, SessionsOut),
    Operation("get", "/coze/templates", "listTemplates", TemplatesQuery, TemplatesOut),
    Operation("post", "/coze/run", "runChain", ChainRequest, RunOut),
)
