"""The handler the platforms call: HTTP events through the application, or direct invocations."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver
from aws_lambda_powertools.logging import correlation_paths

from taskchain import jsontext
from taskchain.errors import invalid_json
from taskchain.http import telemetry
from taskchain.http.errors import MalformedRequestError, malformed_event
from taskchain.http.events import is_function_url_event, malformed_part
from taskchain.http.routing import accept_language, to_json
from taskchain.launchers import remaining_budget
from taskchain.service import Service

DIRECT_TENANT = "direct"
Handler = Callable[[Any, Any], Any]


def lambda_handler(resolver: LambdaFunctionUrlResolver, service: Service) -> Handler:
    """The handler Lambda calls: function URL events through ``resolver``, anything else run
    as a direct invocation of the one-shot contract. Logging and metrics wrap both."""

    @telemetry.logger.inject_lambda_context(
        correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL, clear_state=True
    )
    @telemetry.metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: Any, context: Any) -> Any:
        telemetry.count("Requests")
        if is_function_url_event(event):
            part = malformed_part(event)
            if part is not None:
                return _refuse(event, malformed_event(part))
            return resolver.resolve(_json_body(event), context)
        # Direct invocation is authorised by the platform (IAM, RAM), not by tokens.
        telemetry.logger.set_correlation_id(getattr(context, "aws_request_id", None))
        return run_direct(service, event, context)

    return cast(Handler, handler)


def run_direct(service: Service, event: Any, context: Any = None) -> dict[str, Any]:
    """The original plugin's call: a request dict (or its JSON text) in, its response dict out.

    The run works until shortly before the invocation ends (``context``'s remaining time); a
    chain that cannot finish by then answers its partial result, with ``run_id`` and ``next``.
    """
    payload = event
    if isinstance(event, (str, bytes, bytearray)):
        try:
            payload = jsontext.loads(event)
        except ValueError as exc:  # not JSON, not UTF-8, or JSON no request can be
            reason = exc.reason if isinstance(exc, jsontext.UnusableJsonError) else None
            error = invalid_json(reason, what=("请求", "the request"))
            telemetry.error(error.code)
            return error.to_body()
    started = time.perf_counter()
    result = service.run_safely(payload, tenant=DIRECT_TENANT, budget=remaining_budget(context))
    telemetry.run_duration((time.perf_counter() - started) * 1000)
    telemetry.bind(tenant=DIRECT_TENANT, session_id=result.get("session_id"))
    if result.get("success"):
        telemetry.outcome("run", success=True)
    else:
        telemetry.error(str(result.get("error_code", "INTERNAL_ERROR")))
    return result


def _refuse(event: Mapping[str, Any], error: MalformedRequestError) -> dict[str, Any]:
    """The function-URL answer for an event the HTTP application cannot serve."""
    headers = event.get("headers")
    asked = headers.get("accept-language") if isinstance(headers, Mapping) else None
    body = error.to_body(accept_language(asked if isinstance(asked, str) else None))
    telemetry.error(error.code)
    return {
        "statusCode": 400,
        "headers": {"Content-Type": "application/json"},
        "cookies": [],
        "body": to_json(body),
        "isBase64Encoded": False,
    }


def _json_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """``event`` with its body read as JSON whatever Content-Type says.

    The API speaks only JSON, and ``curl -d`` labels JSON as a form: without this, Powertools
    would parse the body as a form and report every field missing.
    """
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    if str(headers.get("content-type", "")).startswith("application/json"):
        return dict(event)
    return {**event, "headers": {**headers, "content-type": "application/json"}}
