"""The REST routes (``/health``, ``/v1/...``): JSON in, JSON out, real status codes.

Powertools validates each route's body and query against the route's models, once, and hands
the parsed models to the service; the return annotations are the answers' models, so the
OpenAPI document describes the real bodies. Operation ids are unique across the one document:
the Coze routes own the tool names a model sees (``startSession`` ...), so the REST ones carry
a ``v1`` prefix.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from taskchain import limits
from taskchain.http import calls, telemetry
from taskchain.http.calls import Category, DisplayLanguage, Search, TemplateLimit
from taskchain.http.routing import RouteTable, end_user, language, tenant
from taskchain.request_fields import ID_PATTERN, QueryFlag
from taskchain.requests import (
    ChainRequest,
    Cursor,
    QueryPageSize,
    ReportFormat,
    SkipIn,
    SubmitIn,
)
from taskchain.responses import (
    Capabilities,
    Deleted,
    Health,
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

SESSIONS = ["sessions"]
RUNS = ["runs"]
# The ids this service makes (and custom step ids): letters, digits, _ . -, far shorter than the
# bound, which keeps a hostile id out of the stores' keys. Nothing else is one (400, not 404).
SessionId = Annotated[
    str, Path(max_length=128, pattern=ID_PATTERN, description="会话 ID（session id）")
]
StepId = Annotated[str, Path(max_length=128, pattern=ID_PATTERN, description="步骤 ID（step id）")]
RunId = Annotated[
    str, Path(max_length=128, pattern=ID_PATTERN, description="运行 ID，即会话 ID（run id）")
]


def register(route: RouteTable, service: Service) -> None:
    """Add the REST routes to ``route.app``, over ``service``."""
    app = route.app

    @route(
        "GET",
        "/health",
        operation_id="health",
        summary="Liveness (and store check)",
        tags=["health"],
    )
    def health(
        deep: Annotated[QueryFlag, Query(description="also check the session store")] = False,
    ) -> Response[Health]:
        result = service.health(deep=deep)
        return Response(200 if result.status == "healthy" else 503, "application/json", result)

    @route(
        "GET",
        "/v1/templates",
        operation_id="v1ListTemplates",
        summary="The built-in chains",
        tags=["catalogue"],
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
        "GET",
        "/v1/capabilities",
        operation_id="v1ListCapabilities",
        summary="The built-in capabilities, the ten standard ones first",
        tags=["catalogue"],
    )
    def capabilities(language_: DisplayLanguage = None) -> Capabilities:
        return service.capabilities(language=language(app))

    @route(
        "POST",
        "/v1/run",
        operation_id="v1Run",
        summary="Run a whole chain in one call (original contract)",
        tags=["run"],
    )
    def run(request: Annotated[ChainRequest, Body()]) -> RunResult:
        return calls.run(app, service, request)

    @route(
        "POST",
        "/v1/runs",
        status_code=202,
        operation_id="v1StartRun",
        summary="Start a run: worked in the background where the platform has an engine for it "
        "(AWS: a durable function; the local server: threads), else within this call's time",
        tags=RUNS,
    )
    def start_run(request: Annotated[ChainRequest, Body()]) -> RunView:
        return calls.start_run(app, service, request)

    @route(
        "GET",
        "/v1/runs/<run_id>",
        operation_id="v1GetRun",
        summary="A run's progress; its result (the one-shot shape) once it has ended",
        tags=RUNS,
    )
    def run_status(run_id: RunId) -> RunView:
        return calls.run_status(app, service, run_id)

    @route(
        "POST",
        "/v1/runs/<run_id>/continue",
        operation_id="v1ContinueRun",
        summary="Work a run for this call's time and answer its progress (every platform)",
        tags=RUNS,
    )
    def continue_run(run_id: RunId) -> RunView:
        return calls.continue_run(app, service, run_id)

    @route(
        "POST",
        "/v1/sessions",
        status_code=201,
        operation_id="v1StartSession",
        summary="Start a guided session",
        tags=SESSIONS,
    )
    def start(request: Annotated[ChainRequest, Body()]) -> SessionView:
        return calls.start(app, service, request)

    @route(
        "GET",
        "/v1/sessions",
        operation_id="v1ListSessions",
        summary="The caller's sessions, newest first",
        tags=SESSIONS,
    )
    def list_sessions(
        limit: Annotated[QueryPageSize, Query()] = limits.DEFAULT_PAGE_SIZE,
        cursor: Annotated[Cursor | None, Query()] = None,
        user: Annotated[
            str | None,
            Query(max_length=128, description="只看这个最终用户的会话（only this end user's）"),
        ] = None,
    ) -> SessionList:
        return service.list_sessions(
            tenant(app), end_user=user, limit=limit, cursor=cursor, caller=end_user(app)
        )

    @route(
        "GET",
        "/v1/sessions/<session_id>",
        operation_id="v1GetSession",
        summary="Status and resume briefing",
        tags=SESSIONS,
    )
    def status(session_id: SessionId) -> SessionView:
        telemetry.bind(session_id=session_id)
        return service.status(tenant(app), session_id, end_user=end_user(app))

    @route(
        "DELETE",
        "/v1/sessions/<session_id>",
        operation_id="v1DeleteSession",
        summary="Delete a session",
        tags=SESSIONS,
    )
    def delete(session_id: SessionId) -> Deleted:
        telemetry.bind(session_id=session_id)
        return service.delete(tenant(app), session_id, end_user=end_user(app))

    @route(
        "POST",
        "/v1/sessions/<session_id>/steps/<step_id>",
        operation_id="v1SubmitStep",
        summary="Submit a step's output",
        tags=SESSIONS,
    )
    def submit(
        session_id: SessionId, step_id: StepId, request: Annotated[SubmitIn, Body()]
    ) -> SubmitView:
        return calls.submit(app, service, session_id, step_id, request)

    @route(
        "POST",
        "/v1/sessions/<session_id>/steps/<step_id>/skip",
        operation_id="v1SkipStep",
        summary="Skip a step, recording why",
        tags=SESSIONS,
    )
    def skip(
        session_id: SessionId, step_id: StepId, request: Annotated[SkipIn, Body()]
    ) -> SessionView:
        return calls.skip(app, service, session_id, step_id, request)

    @route(
        "GET",
        "/v1/sessions/<session_id>/report",
        operation_id="v1GetReport",
        summary="The report (partial while open)",
        tags=SESSIONS,
    )
    def report(
        session_id: SessionId,
        fmt: Annotated[ReportFormat, Query(alias="format")] = "json",
    ) -> ReportView | MarkdownReport:
        telemetry.bind(session_id=session_id)
        return service.report(tenant(app), session_id, fmt=fmt, end_user=end_user(app))
