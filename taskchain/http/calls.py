"""The use-case calls the REST and Coze routes share, each with its logging keys and metrics."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver

from taskchain.http import telemetry
from taskchain.http.routing import body, end_user, tenant
from taskchain.service import Service

Json = dict[str, Any]
App = LambdaFunctionUrlResolver


def run(app: App, service: Service) -> Json:
    """A one-shot run for the request's tenant and end user, timed and counted."""
    started = time.perf_counter()
    result = service.run(body(app), tenant=tenant(app), end_user=end_user(app))
    telemetry.run_duration((time.perf_counter() - started) * 1000)
    telemetry.bind(session_id=result.get("session_id"))
    telemetry.outcome("run", result)
    return result


def start(app: App, service: Service) -> Json:
    """Start a guided session for the request's tenant and end user."""
    result = service.start(body(app), tenant=tenant(app), end_user=end_user(app))
    telemetry.bind(session_id=result["session_id"])
    telemetry.outcome("start", result)
    return result


def submit(app: App, service: Service, session_id: str, step_id: str) -> Json:
    """Submit the request body as a step's output."""
    telemetry.bind(session_id=session_id)
    result = service.submit(tenant(app), session_id, step_id, body(app), end_user=end_user(app))
    telemetry.outcome("submit", result)
    return result


def skip(app: App, service: Service, session_id: str, step_id: str) -> Json:
    """Skip a step with the request body's reason."""
    telemetry.bind(session_id=session_id)
    result = service.skip(tenant(app), session_id, step_id, body(app), end_user=end_user(app))
    telemetry.outcome("skip", result)
    return result
