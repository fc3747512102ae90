"""The REST routes (``/health``, ``/v1/...``): JSON in, JSON out, real status codes.

A route's body parameter (``request: Annotated[Model, Body()]``) is what Powertools validates
and documents; the route hands the raw JSON body to the service, which parses it with the same
model, so the service stays the one source of behaviour and error codes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from taskchain.http import calls, telemetry
from taskchain.http.routing import RouteTable, end_user, language, tenant
from taskchain.requests import ChainRequest, SkipIn, SubmitIn
from taskchain.service import Service

Json = dict[str, Any]
SESSIONS = ["sessions"]


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
        deep: Annotated[bool, Query(description="also check the session store")] = False,
    ) -> Response[Json]:
        result = service.health(deep=deep)
        return Response(200 if result["status"] == "healthy" else 503, "application/json", result)

    @route(
        "GET",
        "/v1/templates",
        operation_id="listTemplates",
        summary="The built-in chains",
        tags=["catalogue"],
    )
    def templates(
        category: Annotated[str | None, Query(max_length=50)] = None,
        search: Annotated[str | None, Query(max_length=100, description="either language")] = None,
        limit: Annotated[int | None, Query(ge=1, le=100)] = None,
        language_: Annotated[Literal["zh", "en"] | None, Query(alias="language")] = None,
    ) -> Json:
        return service.templates(
            language=language(app), category=category, search=search, limit=limit
        )

    @route(
        "GET",
        "/v1/capabilities",
        operation_id="listCapabilities",
        summary="The built-in capabilities, the ten standard ones first",
        tags=["catalogue"],
    )
    def capabilities(
        language_: Annotated[Literal["zh", "en"] | None, Query(alias="language")] = None,
    ) -> Json:
        return service.capabilities(language=language(app))

    @route(
        "POST",
        "/v1/run",
        operation_id="run",
        summary="Run a whole chain in one call (original contract)",
        tags=["run"],
    )
    def run(request: Annotated[ChainRequest, Body()]) -> Json:
        return calls.run(app, service)

    @route(
        "POST",
        "/v1/sessions",
        status_code=201,
        operation_id="startSession",
        summary="Start a guided session",
        tags=SESSIONS,
    )
    def start(request: Annotated[ChainRequest, Body()]) -> Json:
        return calls.start(app, service)

    @route(
        "GET",
        "/v1/sessions",
        operation_id="listSessions",
        summary="The caller's sessions, newest first",
        tags=SESSIONS,
    )
    def list_sessions(
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        user: Annotated[
            str | None, Query(max_length=128, description="only this end user's")
        ] = None,
    ) -> Json:
        return service.list_sessions(tenant(app), end_user=user, limit=limit, cursor=cursor)

    @route(
        "GET",
        "/v1/sessions/<session_id>",
        operation_id="getSession",
        summary="Status and resume briefing",
        tags=SESSIONS,
    )
    def status(session_id: str) -> Json:
        telemetry.bind(session_id=session_id)
        return service.status(tenant(app), session_id, end_user=end_user(app))

    @route(
        "DELETE",
        "/v1/sessions/<session_id>",
        operation_id="deleteSession",
        summary="Delete a session",
        tags=SESSIONS,
    )
    def delete(session_id: str) -> Json:
        telemetry.bind(session_id=session_id)
        return service.delete(tenant(app), session_id, end_user=end_user(app))

    @route(
        "POST",
        "/v1/sessions/<session_id>/steps/<step_id>",
        operation_id="submitStep",
        summary="Submit a step's output",
        tags=SESSIONS,
    )
    def submit(session_id: str, step_id: str, request: Annotated[SubmitIn, Body()]) -> Json:
        return calls.submit(app, service, session_id, step_id)

    @route(
        "POST",
        "/v1/sessions/<session_id>/steps/<step_id>/skip",
        operation_id="skipStep",
        summary="Skip a step, recording why",
        tags=SESSIONS,
    )
    def skip(session_id: str, step_id: str, request: Annotated[SkipIn, Body()]) -> Json:
        return calls.skip(app, service, session_id, step_id)

    @route(
        "GET",
        "/v1/sessions/<session_id>/report",
        operation_id="getReport",
        summary="The report (partial while open)",
        tags=SESSIONS,
    )
    def report(
        session_id: str,
        fmt: Annotated[Literal["json", "markdown"], Query(alias="format")] = "json",
    ) -> Json:
        telemetry.bind(session_id=session_id)
        return service.report(tenant(app), session_id, fmt=fmt, end_user=end_user(app))
