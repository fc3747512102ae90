"""What the use cases answer: the response bodies as pydantic models, every field described.

Each model dumps (``model_dump(mode="json")``) to exactly the JSON callers receive; a field
marked ``exclude_if`` is left out while it is ``None`` (the one-shot run's error fields, the
shallow health check's ``checks``). The HTTP routes declare these models, so the REST OpenAPI
document and the Coze document derived from it describe the real bodies.
"""

from typing import Any, Literal

from pydantic import ConfigDict, Field

from taskchain.guidance import StepGuidance
from taskchain.modelbase import Model
from taskchain.models import SESSION_STATUS_DOC, Feedback, Language, SessionStatus, Usage
from taskchain.report import ModelCost, Report
from taskchain.store import SessionSummary


def _absent(value: Any) -> bool:
    """Leave the field out of the JSON while it is unset."""
    return value is None


# Catalogue entries are built from the catalogue's own dicts: a key they do not declare is a bug.
_CATALOGUE = ConfigDict(extra="forbid")
_READY_DOC = "现在可以做的步骤及其写作指引（ready steps with their guidance）"
SUCCESS_DOC = (
    "true 表示成功；false 表示业务错误，请读 error_code 和 error（false: a business error）"
)


class Answer(Model):
    """Base of the answers of successful use cases."""

    success: bool = Field(default=True, description=SUCCESS_DOC)


# --- guided sessions --------------------------------------------------------------------------


class Progress(Model):
    """Step counts of a session."""

    completed: int = Field(description="已完成的步骤数（steps completed）")
    failed: int = Field(description="失败的步骤数（steps failed）")
    skipped: int = Field(description="跳过的步骤数（steps skipped）")
    total: int = Field(description="步骤总数（steps in the chain）")


class StepLine(Model):
    """One step of the chain in a session view."""

    step_id: str = Field(description="步骤 ID（step id）")
    name: str = Field(description="步骤名称（step name）")
    state: str = Field(description="步骤状态：pending、ready、completed、failed、skipped（state）")
    dependencies: list[str] = Field(description="依赖的步骤 ID（dependencies）")


class FinishedStep(Model):
    """A finished step in one line."""

    step_id: str = Field(description="步骤 ID（step id）")
    name: str = Field(description="步骤名称（step name）")
    state: str = Field(description="结束时的状态：completed、failed 或 skipped（state）")
    summary: str | None = Field(description="一句话摘要，或跳过、失败的原因（summary or reason）")
    attempts: int = Field(description="提交次数（attempts）")


class SessionView(Answer):
    """A session and its resume briefing: answered by start, status and skip."""

    session_id: str = Field(description="会话 ID，后续调用都要带上（session id）")
    version: int = Field(description="会话版本，每次修改加 1（session version）")
    status: SessionStatus = Field(description=SESSION_STATUS_DOC)
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
    ready_steps: list[StepGuidance] = Field(description=_READY_DOC)
    briefing: str = Field(description="恢复简报：目标、进度、下一步（resume briefing）")
    created_at: str = Field(description="创建时间，ISO 8601（created at）")
    updated_at: str = Field(description="更新时间，ISO 8601（updated at）")
    expires_at: str | None = Field(description="过期时间，ISO 8601（expires at）")


class SubmitView(Answer):
    """The verdict on a submitted output."""

    session_id: str = Field(description="会话 ID（session id）")
    step_id: str = Field(description="提交的步骤 ID（step id）")
    language: Language = Field(description="会话语言，反馈与指引都用它（the session's language）")
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
    status: SessionStatus = Field(description=SESSION_STATUS_DOC)
    progress: Progress = Field(description="各状态的步骤数（step counts）")
    newly_ready: list[str] = Field(description="本次提交后新就绪的步骤 ID（newly ready steps）")
    ready_steps: list[StepGuidance] = Field(description=_READY_DOC)


class MarkdownReport(Answer):
    """A report as Markdown (``format=markdown``)."""

    session_id: str = Field(description="会话 ID（session id）")
    partial: bool = Field(description="true 表示还有步骤未结束，这是部分报告（partial report）")
    markdown: str = Field(
        description="format=markdown 时的完整报告，可直接展示（the report as Markdown）"
    )


class ReportView(Report, Answer):
    """A report as JSON fields (``format=json``): ``success``, then the report's fields."""


class SessionList(Answer):
    """A page of sessions, newest first."""

    sessions: list[SessionSummary] = Field(description="会话列表，最新在前（sessions）")
    next_cursor: str | None = Field(
        description="下一页游标，传给 cursor；为空表示没有更多（next page cursor）"
    )


class Deleted(Answer):
    """A deleted session."""

    session_id: str = Field(description="被删除的会话 ID（session id）")
    deleted: bool = Field(description="已删除（deleted）")


# --- one-shot runs (the original plugin's response) ------------------------------------------


class ExecutionResult(Model):
    """One step of a one-shot run."""

    task_id: str = Field(description="步骤 ID（step id）")
    name: str = Field(description="步骤名称（step name）")
    status: str = Field(description="步骤状态（step state）")
    output: str | None = Field(description="步骤产出（the step's output）")
    error_message: str | None = Field(
        description="步骤未完成时的原因（why the step did not complete）"
    )
    execution_time: float = Field(description="用时，秒（seconds taken）")
    timestamp: str | None = Field(description="结束时间，ISO 8601（finished at）")
    attempts: int = Field(description="尝试次数（attempts）")
    executor: str | None = Field(description="产出由谁写出（who wrote the output）")
    model: str | None = Field(default=None, description="作答的模型（the model that wrote it）")
    usage: Usage | None = Field(
        default=None,
        description="模型调用次数和 token 用量，含失败的尝试（model calls and tokens）",
    )


class ExecutionSummary(Model):
    """Counts of a one-shot run."""

    total_tasks: int = Field(description="步骤总数（steps in the chain）")
    completed_tasks: int = Field(description="已完成的步骤数（steps completed）")
    failed_tasks: int = Field(description="失败的步骤数（steps failed）")
    skipped_tasks: int = Field(description="跳过的步骤数（steps skipped）")
    total_execution_time: float = Field(description="各步骤用时之和，秒（seconds in all）")
    model_usage: ModelCost | None = Field(
        default=None,
        description="模型调用的总次数与 token 用量；没有调用模型时为 null（model calls and tokens）",
    )


class RunGaps(Model):
    """The steps behind an ``EXECUTION_FAILED``."""

    failed_steps: list[str] = Field(description="失败的步骤 ID（failed steps）")
    skipped_steps: list[str] = Field(description="被跳过的步骤 ID（skipped steps）")
    unfinished_steps: list[str] = Field(
        description="还没有结束的步骤 ID：未开始或未做完（steps not finished）"
    )


class RunResult(Model):
    """A whole chain run in one call; the error fields are there only when it did not succeed."""

    success: bool = Field(
        description="true 表示任务链跑完（可能有缺口）；false 表示请求有误、中途停止或超时，"
        "请读 error_code 和 error（false: the chain did not run to its end）"
    )
    content: Literal["outline", "answers"] = Field(
        description="outline 表示内置执行器只写了待填写的提纲、没有结论，需要逐步作答；"
        "answers 表示各步骤是真实作答（outline: questions to answer, no findings）"
    )
    session_id: str = Field(description="会话 ID（session id）")
    run_id: str = Field(
        description="运行 ID（即会话 ID），可用 GET /v1/runs/{run_id} 查询、续跑（run id: the session id）"
    )
    task_type: str = Field(description="任务类型（task type）")
    target: str = Field(description="目标（goal）")
    next: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="任务链没有在本次调用的时限内跑完时，怎样继续（how to continue an unfinished run）",
    )
    execution_results: list[ExecutionResult] = Field(description="各步骤结果（step results）")
    final_report: Report = Field(description="最终报告（final report）")
    execution_summary: ExecutionSummary = Field(description="执行统计（execution summary）")
    error_code: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="错误码：EXECUTION_FAILED 表示任务链没有跑完，其他为请求错误（error code）",
    )
    category: str | None = Field(
        default=None, exclude_if=_absent, description="错误类别（error category）"
    )
    error: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="错误说明：出了什么问题、怎样改正（what went wrong and how to fix it）",
    )
    details: RunGaps | None = Field(
        default=None,
        exclude_if=_absent,
        description="EXECUTION_FAILED 时：哪些步骤失败、被跳过或没有完成（the steps behind it）",
    )


class StepWork(Model):
    """A step a run is working on."""

    step_id: str = Field(description="步骤 ID（step id）")
    name: str = Field(description="步骤名称（step name）")
    attempts: int = Field(description="已尝试次数（attempts so far）")
    max_attempts: int = Field(description="最多尝试次数（maximum attempts）")


class RunView(Answer):
    """A run's progress; once it has ended, its result in the one-shot shape."""

    run_id: str = Field(description="运行 ID（即会话 ID）（run id: the session id）")
    status: Literal["running", "completed", "completed_with_gaps", "failed"] = Field(
        description="running 进行中或已暂停（见 next）；completed 全部完成；completed_with_gaps 已结束但有缺口；"
        "failed 失败（run status）"
    )
    executor: str = Field(description="由谁写各步骤：llm 或 builtin（executor）")
    progress: Progress = Field(description="各状态的步骤数（step counts）")
    current_steps: list[StepWork] = Field(description="正在做的步骤（steps being worked on）")
    attempts: int = Field(description="全部尝试次数（attempts in all）")
    model_usage: ModelCost | None = Field(
        description="到目前为止的模型调用与 token 用量（model calls and tokens so far）"
    )
    elapsed: float = Field(
        description="从开始到最近一次保存，秒（seconds from start to last save）"
    )
    updated_at: float = Field(description="最近一次保存的时间，Unix 秒（last saved at）")
    next: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="运行未结束时怎样继续或查询（how to follow or continue the run）",
    )
    result: RunResult | None = Field(
        default=None,
        exclude_if=_absent,
        description="运行结束后的结果，与一次跑完（run）的返回相同（the result, once ended）",
    )


# --- catalogue --------------------------------------------------------------------------------


class TemplateStep(Model):
    """A step of a built-in template."""

    model_config = _CATALOGUE

    id: str = Field(description="步骤 ID（step id）")
    name: str = Field(description="步骤名称（step name）")


class TemplateInfo(Model):
    """A built-in template in the catalogue."""

    model_config = _CATALOGUE

    key: str = Field(description="模板键，即 task_type（template key, the task_type）")
    name: str = Field(description="模板名称（name）")
    description: str = Field(description="模板说明（description）")
    category: str = Field(description="类别（category）")
    tags: list[str] = Field(description="标签（tags）")
    steps: list[TemplateStep] = Field(description="步骤（steps）")


class Templates(Answer):
    """The built-in templates."""

    templates: list[TemplateInfo] = Field(description="模板列表（templates）")
    count: int = Field(description="模板数量（count）")


class CapabilityInfo(Model):
    """A capability in the catalogue."""

    model_config = _CATALOGUE

    name: str = Field(description="能力名称（中文规范名）（canonical name）")
    key: str = Field(description="英文键（key）")
    title: str = Field(description="展示名称（title）")
    purpose: str = Field(description="用途（purpose）")
    checklist: list[str] = Field(description="检查清单（checklist）")
    sections: list[str] = Field(description="产出必须包含的小节标题（required section titles）")
    checks: list[str] = Field(description="附加检查的规则 ID（rule ids of its checks）")
    aliases: list[str] = Field(description="别名（aliases）")


class Capabilities(Answer):
    """The capabilities, the ten standard ones first."""

    capabilities: list[CapabilityInfo] = Field(description="能力列表（capabilities）")
    count: int = Field(description="能力数量（count）")


class Health(Model):
    """Liveness, and with ``deep`` the store check."""

    status: Literal["healthy", "unhealthy"] = Field(description="健康状态（status）")
    version: str = Field(description="服务版本（version）")
    capabilities: int = Field(description="内置能力数（built-in capabilities）")
    store: str = Field(description="会话存储的类型（session store）")
    checks: dict[str, str] | None = Field(
        default=None,
        exclude_if=_absent,
        description="deep=true 时各依赖的检查结果（dependency checks, with deep=true）",
    )


# --- errors -----------------------------------------------------------------------------------
