"""What the REST and Coze routes share: use-case calls with their logging keys and metrics, and
the query parameters both declare."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver
from aws_lambda_powertools.event_handler.openapi.params import Query

from taskchain.http import telemetry
from taskchain.http.routing import end_user, tenant
from taskchain.launchers import remaining_budget
from taskchain.request_fields import Whole
from taskchain.requests import ChainRequest, SkipIn, SubmitIn
from taskchain.responses import RunResult, RunView, SessionView, SubmitView
from taskchain.service import Service

App = LambdaFunctionUrlResolver

# The catalogue's query parameters (GET /v1/templates, GET /coze/templates).
Category = Annotated[
    str | None, Query(max_length=50, description="只看这个类别的模板（category filter）")
]
Search = Annotated[
    str | None,
    Query(max_length=100, description="按关键词搜索名称、说明和标签，中英文均可（search text）"),
]
TemplateLimit = Annotated[
    Annotated[int, Whole(1, 100, query=True)] | None,
    Query(description="最多返回几个，1 到 100（at most this many）"),
]
DisplayLanguage = Annotated[
    Literal["zh", "en"] | None,
    Query(alias="language", description="展示语言：zh 或 en（display language）"),
]


def budget(app: App) -> float | None:
    """Seconds this request may work a run: the invocation's remaining time less a margin, so
    a run that cannot finish answers its partial result (with ``next``) instead of timing out."""
    return remaining_budget(app.lambda_context)


def run(app: App, service: Service, request: ChainRequest) -> RunResult:
    """A one-shot run for the request's tenant and end user, timed and counted."""
    started = time.perf_counter()
    result = service.run(request, tenant=tenant(app), end_user=end_user(app), budget=budget(app))
    telemetry.run_duration((time.perf_counter() - started) * 1000)
    telemetry.bind(session_id=result.session_id)
    telemetry.outcome("run", success=result.success)
    return result


def start_run(app: App, service: Service, request: ChainRequest) -> RunView:
    """Start a run: handed to the launcher, or worked within this request's time without one."""
    result = service.start_run(
        request, tenant=tenant(app), end_user=end_user(app), budget=budget(app)
    )
    telemetry.bind(session_id=result.run_id)
    telemetry.count("RunsStarted")
    telemetry.outcome("run", status=result.status)
    return result


def continue_run(app: App, service: Service, run_id: str) -> RunView:
    """Work a stored run for this request's time; an ended run is answered as it is."""
    telemetry.bind(session_id=run_id)
    return service.continue_run(tenant(app), run_id, end_user=end_user(app), budget=budget(app))


def run_status(app: App, service: Service, run_id: str) -> RunView:
    """A run's progress, with its result once it has ended."""
    telemetry.bind(session_id=run_id)
    return service.run_status(tenant(app), run_id, end_user=end_user(app))


def start(app: App, service: Service, request: ChainRequest) -> SessionView:
    """Start a guided session for the request's tenant and end user."""
    result = service.start(request, tenant=tenant(app), end_user=end_user(app))
    telemetry.bind(session_id=result.session_id)
    telemetry.outcome("start")
    return result


def submit(app: App, service: Service, session_id: str, step_id: str, body: SubmitIn) -> SubmitView:
    """Submit a step's output."""
    telemetry.bind(session_id=session_id)
    result = service.submit(tenant(app), session_id, step_id, body, end_user=end_user(app))
    telemetry.outcome("submit", accepted=result.accepted, status=result.status)
    return result


def skip(app: App, service: Service, session_id: str, step_id: str, body: SkipIn) -> SessionView:
    """Skip a step with the request's reason."""
    telemetry.bind(session_id=session_id)
    result = service.skip(tenant(app), session_id, step_id, body, end_user=end_user(app))
    telemetry.outcome("skip", status=result.status)
    return result
