"""The Coze routes (``/coze/...``): flat JSON bodies, POST only, business errors as 200 bodies.

Coze shows the model the response body, not the status, so the one exception handler answers
``/coze/`` requests with HTTP 200 and ``success: false``, ``error_code`` and ``error``
(see :func:`taskchain.http.routing.render`); the path prefix is what tells Coze calls from REST calls.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field

from taskchain.http import calls, telemetry
from taskchain.http.routing import RouteTable, end_user, language, tenant
from taskchain.requests import ChainRequest, Request, SkipIn, SubmitIn, Text
from taskchain.service import Service

Json = dict[str, Any]
COZE = ["coze"]
Id = Annotated[Text, Field(min_length=1, max_length=128, description="会话或步骤的 ID")]


class SessionRef(Request):
    """A request about one session."""

    session_id: Id


class SubmitStep(SubmitIn):
    """A step's output, with the session and step it belongs to."""

    session_id: Id
    step_id: Id


class SkipStep(SkipIn):
    """A step to skip, with the session it belongs to."""

    session_id: Id
    step_id: Id


class ReportOf(SessionRef):
    """A report request."""

    format: Literal["json", "markdown"] = "markdown"


class ListSessions(Request):
    """A page of the calling Coze user's sessions."""

    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=512)] | None = None


def register(route: RouteTable, service: Service) -> None:
    """Add the Coze routes to ``route.app``, over ``service``."""
    app = route.app

    @route(
        "POST",
        "/coze/run",
        operation_id="cozeRun",
        summary="一次运行完整任务链（原插件接口）",
        tags=COZE,
    )
    def run(request: Annotated[ChainRequest, Body()]) -> Json:
        return calls.run(app, service)

    @route(
        "POST",
        "/coze/sessions/start",
        operation_id="cozeStartSession",
        summary="开始一个引导式会话",
        tags=COZE,
    )
    def start(request: Annotated[ChainRequest, Body()]) -> Json:
        return calls.start(app, service)

    @route(
        "POST",
        "/coze/sessions/status",
        operation_id="cozeSessionStatus",
        summary="查看会话进度和下一步",
        tags=COZE,
    )
    def status(request: Annotated[SessionRef, Body()]) -> Json:
        telemetry.bind(session_id=request.session_id)
        return service.status(tenant(app), request.session_id, end_user=end_user(app))

    @route(
        "POST",
        "/coze/sessions/submit",
        operation_id="cozeSubmitStep",
        summary="提交一个步骤的产出",
        tags=COZE,
    )
    def submit(request: Annotated[SubmitStep, Body()]) -> Json:
        return calls.submit(app, service, request.session_id, request.step_id)

    @route(
        "POST",
        "/coze/sessions/skip",
        operation_id="cozeSkipStep",
        summary="跳过一个步骤并记录原因",
        tags=COZE,
    )
    def skip(request: Annotated[SkipStep, Body()]) -> Json:
        return calls.skip(app, service, request.session_id, request.step_id)

    @route(
        "POST",
        "/coze/sessions/report",
        operation_id="cozeReport",
        summary="获取会话报告",
        tags=COZE,
    )
    def report(request: Annotated[ReportOf, Body()]) -> Json:
        telemetry.bind(session_id=request.session_id)
        return service.report(
            tenant(app), request.session_id, fmt=request.format, end_user=end_user(app)
        )

    @route(
        "POST",
        "/coze/sessions/list",
        operation_id="cozeListSessions",
        summary="列出当前用户的会话",
        tags=COZE,
    )
    def list_sessions(request: Annotated[ListSessions, Body()]) -> Json:
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
        operation_id="cozeTemplates",
        summary="查看内置任务链模板",
        tags=COZE,
    )
    def templates(
        category: Annotated[str | None, Query(max_length=50)] = None,
        search: Annotated[str | None, Query(max_length=100)] = None,
        limit: Annotated[int | None, Query(ge=1, le=100)] = None,
        language_: Annotated[Literal["zh", "en"] | None, Query(alias="language")] = None,
    ) -> Json:
        return service.templates(
            language=language(app), category=category, search=search, limit=limit
        )
