"""The Coze routes (``/coze/...``): flat JSON bodies, POST only, business errors as 200 bodies.

Coze shows the model the response body, not the status, so the one exception handler answers
``/coze/`` requests with HTTP 200 and ``success: false``, ``error_code`` and ``error``
(see :func:`taskchain.http.routing.render`); the path prefix is what tells Coze calls from REST
calls. Each route documents its 200 as its answer or :class:`~taskchain.error_bodies.ErrorBody`.

These routes are the Coze plugin: ``tools/coze_spec.py`` turns their part of the OpenAPI document
into the file Coze imports. Coze gives the model each ``operation_id`` as the tool's name and its
``summary`` as the tool's description, so every summary says when to call the tool. Routes are
registered in the order a model uses them: the guided flow first, the helpers after.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import Field

from taskchain import limits
from taskchain.error_bodies import ErrorBody
from taskchain.http import calls, telemetry
from taskchain.http.calls import Category, DisplayLanguage, Search, TemplateLimit
from taskchain.http.routing import RouteTable, end_user, language, tenant
from taskchain.request_fields import ID_PATTERN, Clean
from taskchain.requests import (
    ChainRequest,
    Cursor,
    PageSize,
    ReportFormat,
    Request,
    SkipIn,
    SubmitIn,
)
from taskchain.responses import (
    MarkdownReport,
    ReportView,
    RunResult,
    RunView,
    SessionList,
    SessionView,
    SubmitView,
    Templates,
)
from taskchain.service import Service

COZE = ["coze"]
Id = Annotated[
    str, Clean(1, 128, pattern=ID_PATTERN)
]  # as the REST paths: a malformed id is INVALID_FIELD
_SESSION_DOC = "startSession 返回的会话 ID（session id）"


class SessionRef(Request):
    """A request about one session."""

    session_id: Id = Field(description=_SESSION_DOC)


class SubmitStep(SubmitIn):
    """A step's output, with the session and step it belongs to."""

    session_id: Id = Field(description=_SESSION_DOC)
    step_id: Id = Field(
        description="要提交的步骤 ID，必须是 ready_steps 中的一个（step id from ready_steps）"
    )


class SkipStep(SkipIn):
    """A step to skip, with the session it belongs to."""

    session_id: Id = Field(description=_SESSION_DOC)
    step_id: Id = Field(description="要跳过的步骤 ID（step id）")


class ReportOf(SessionRef):
    """A report request."""

    format: ReportFormat = Field(
        default="markdown",
        description="报告格式：markdown（默认，可直接展示）或 json（report format）",
    )


class RunRef(Request):
    """A request about one run."""

    run_id: Id = Field(description="startRun 或 runChain 返回的运行 ID（run id）")


class ListSessions(Request):
    """A page of the calling Coze user's sessions."""

    limit: PageSize = limits.DEFAULT_PAGE_SIZE
    cursor: Cursor | None = None


def answers(model: Any) -> dict[int, Any]:
    """The 200 a Coze route documents: ``model`` when it succeeds, else the error body."""
    return {
        200: {
            "description": "成功或业务错误，看 success（success, or a business error: see success）",
            "content": {"application/json": {"model": model | ErrorBody}},
        }
    }


def register(route: RouteTable, service: Service) -> None:
    """Add the Coze routes to ``route.app``, over ``service``."""
    app = route.app

    @route(
        "POST",
        "/coze/sessions/start",
        operation_id="startSession",
        summary="开始一个引导式任务链：用户提出需要分步完成的目标时首先调用，返回 session_id 和第一批 ready_steps",
        description="开始引导式会话（start a guided session）。用户给出一个需要分步完成的目标（分析、创作、教学、研究或自定义）时首先调用。"
        "返回 session_id、version 和 ready_steps：每个就绪步骤带有 instructions（写作指引）、checklist（检查清单）、"
        "required_sections（必须包含的小节标题）、min_length / max_length 和 rules（提交后逐条检查的规则）。"
        "接着为每个就绪步骤写出完整产出并调用 submitStep。"
        "Call this first when the user states a goal; then write each ready step and submit it with submitStep.",
        responses=answers(SessionView),
        tags=COZE,
    )
    def start(request: Annotated[ChainRequest, Body()]) -> SessionView:
        return calls.start(app, service, request)

    @route(
        "POST",
        "/coze/sessions/submit",
        operation_id="submitStep",
        summary="写完一个就绪步骤的完整产出后调用，提交并接受检查；accepted=false 时按 feedback 的 hint 修改后重新提交同一步骤",
        description="提交 ready_steps 中一个步骤的完整产出（submit a ready step's output）。产出要遵循该步骤的 instructions、"
        "checklist 和 required_sections（用 Markdown 二级标题组织小节），覆盖 focus_areas，并满足 rules 中的每条规则。返回 accepted："
        "true 表示通过，继续处理返回的 ready_steps；false 表示被退回，按 feedback 中 passed=false 各条的 hint 修改后"
        "再次提交同一步骤（attempts_left 为剩余次数）。不要提交未就绪的步骤，也不要跳步。"
        "When accepted=false, fix the output per each failed check's hint and resubmit the same step.",
        responses=answers(SubmitView),
        tags=COZE,
    )
    def submit(request: Annotated[SubmitStep, Body()]) -> SubmitView:
        return calls.submit(app, service, request.session_id, request.step_id, request)

    @route(
        "POST",
        "/coze/sessions/status",
        operation_id="getStatus",
        summary="查看会话进度和恢复简报；忘记进度、用户回来继续、或提交报 STALE_VERSION / STEP_NOT_READY 时调用",
        description="返回会话的目标、进度、已结束步骤的一行摘要（finished_steps）、briefing（恢复简报）和当前 ready_steps"
        "（status and resume briefing）。上下文丢失、用户稍后回来继续、或 submitStep 报版本冲突或步骤未就绪时调用，"
        "然后按 ready_steps 继续。Call it when you lost track, the user comes back, or a submit reports a conflict.",
        responses=answers(SessionView),
        tags=COZE,
    )
    def status(request: Annotated[SessionRef, Body()]) -> SessionView:
        telemetry.bind(session_id=request.session_id)
        return service.status(tenant(app), request.session_id, end_user=end_user(app))

    @route(
        "POST",
        "/coze/sessions/skip",
        operation_id="skipStep",
        summary="跳过一个无法完成的步骤并记录原因（报告中列为缺口）；只在用户同意或多次修改仍无法通过时调用",
        description="跳过一个步骤，原因记为报告中的缺口（skip a step; the reason becomes a gap in the report）。"
        "只在用户明确要求、或多次修改仍无法通过时调用。返回更新后的会话和 ready_steps。"
        "Use only when the user agrees or the step truly cannot be done.",
        responses=answers(SessionView),
        tags=COZE,
    )
    def skip(request: Annotated[SkipStep, Body()]) -> SessionView:
        return calls.skip(app, service, request.session_id, request.step_id, request)

    @route(
        "POST",
        "/coze/sessions/report",
        operation_id="getReport",
        summary="获取会话报告（默认 Markdown，每条结论注明来源步骤）；status 不再是 active 后调用并把报告呈现给用户",
        description="生成会话报告（get the report）。status 不再是 active（completed、completed_with_gaps 或 failed）后调用；"
        "进行中调用得到部分报告（partial=true）。"
        "默认 format=markdown，返回可直接展示的 markdown，关键发现和建议都注明来自哪个步骤；format=json 返回结构化字段。"
        "Call it when the session is no longer active and show the markdown, with its step references, to the user.",
        responses=answers(MarkdownReport | ReportView),
        tags=COZE,
    )
    def report(request: Annotated[ReportOf, Body()]) -> MarkdownReport | ReportView:
        telemetry.bind(session_id=request.session_id)
        return service.report(
            tenant(app), request.session_id, fmt=request.format, end_user=end_user(app)
        )

    @route(
        "POST",
        "/coze/sessions/list",
        operation_id="listSessions",
        summary="列出当前用户的会话（最新在前）；用户想继续以前的任务但不知道 session_id 时调用",
        description="列出调用者的会话，最新在前，分页（list the caller's sessions, newest first）。用户想继续以前的任务时调用，"
        "选出 session_id 后调用 getStatus 继续。Use it to find a session to resume.",
        responses=answers(SessionList),
        tags=COZE,
    )
    def list_sessions(request: Annotated[ListSessions, Body()]) -> SessionList:
        # Only the calling Coze user's own sessions; without a caller header, none.
        return service.list_sessions(
            tenant(app),
            end_user=end_user(app),
            limit=request.limit,
            cursor=request.cursor,
            require_user=True,
        )

    @route(
        "GET",
        "/coze/templates",
        operation_id="listTemplates",
        summary="查看内置任务链模板（分析、创作、教学、研究）及其步骤；不确定该用哪种 task_type 时调用",
        description="列出内置模板：key（即 task_type）、名称、说明、标签和步骤（list the built-in chains）。"
        "不确定哪种 task_type 适合用户的目标时调用。Use it to choose a task_type.",
        responses=answers(Templates),
        tags=COZE,
    )
    def templates(
        category: Category = None,
        search: Search = None,
        limit: TemplateLimit = None,
        language_: DisplayLanguage = None,
    ) -> Templates:
        return service.templates(
            language=language(app), category=category, search=search, limit=limit
        )

    @route(
        "POST",
        "/coze/run",
        operation_id="runChain",
        summary="一次性运行整条任务链并返回报告（原插件接口，内置执行器只写提纲）；仅在用户只要快速草稿时调用",
        description="一次调用跑完整条任务链（run a whole chain in one call; the original plugin's contract）。步骤由内置执行器写成提纲，"
        "质量不如逐步写作；用户要认真完成的任务请用 startSession。Prefer startSession for real work.",
        responses=answers(RunResult),
        tags=COZE,
    )
    def run(request: Annotated[ChainRequest, Body()]) -> RunResult:
        return calls.run(app, service, request)

    @route(
        "POST",
        "/coze/runs/start",
        operation_id="startRun",
        summary="开始一次由服务端执行器完成整条任务链的运行；用户要完整结果、不参与每一步时调用，返回 run_id，之后用 getRun 查看进度",
        description="开始一次运行（start a run）：整条任务链由服务端的执行器逐步写出并检查（配置了模型时由模型作答，"
        "否则内置执行器只写提纲）。有后台执行环境时（AWS 持久函数、本地服务器）立即返回；没有时（阿里云函数计算）"
        "在本次调用的时限内尽量推进后返回。返回 run_id、status、progress 和 current_steps；status 为 running 时调用 getRun "
        "查看进度，结束后 result 中是与 runChain 相同的完整结果。"
        "Start a run worked by the server; follow it with getRun and continue it with continueRun.",
        responses=answers(RunView),
        tags=COZE,
    )
    def start_run(request: Annotated[ChainRequest, Body()]) -> RunView:
        return calls.start_run(app, service, request)

    @route(
        "POST",
        "/coze/runs/status",
        operation_id="getRun",
        summary="查看一次运行的进度（已完成步骤、正在做的步骤、token 用量）；startRun 之后调用，status 不是 running 时 result 是完整结果",
        description="查看运行进度（get a run）：progress（各状态步骤数）、current_steps（正在做的步骤及尝试次数）、"
        "model_usage（到目前为止的模型调用与 token 用量）。status 为 completed、completed_with_gaps 或 failed 时，"
        "result 中是与 runChain 相同的完整结果，把 final_report 呈现给用户。"
        "Call it after startRun; once the run has ended, result holds the whole outcome.",
        responses=answers(RunView),
        tags=COZE,
    )
    def run_status(request: Annotated[RunRef, Body()]) -> RunView:
        return calls.run_status(app, service, request.run_id)

    @route(
        "POST",
        "/coze/runs/continue",
        operation_id="continueRun",
        summary="让一次未结束的运行在本次调用的时限内继续推进并返回进度；getRun 或 runChain 返回 running / next 且没有后台继续时调用",
        description="继续运行（continue a run）：在本次调用的时限内继续完成运行中就绪的步骤，已完成的步骤不会重做；"
        "返回与 getRun 相同的进度，运行结束时带 result。没有后台执行环境时（如阿里云函数计算），反复调用它直到 status 不再是 running。"
        "Call it until status is no longer running where no background engine works the run.",
        responses=answers(RunView),
        tags=COZE,
    )
    def continue_run(request: Annotated[RunRef, Body()]) -> RunView:
        return calls.continue_run(app, service, request.run_id)
