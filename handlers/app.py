"""The composition root of the Lambda handler, and its dispatch: HTTP events or direct invocations."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from aws_lambda_powertools.logging import correlation_paths

from handlers import telemetry
from handlers.api import build_resolver
from handlers.auth import Authenticator, load_tokens
from handlers.function_url import is_function_url_event
from handlers.idempotency import Idempotency, persistence_for
from taskchain.bootstrap import bootstrap
from taskchain.config import Settings
from taskchain.errors import InvalidRequestError
from taskchain.service import Service

DIRECT_TENANT = "direct"
Handler = Callable[[Any, Any], Any]


def make_handler(
    env: Mapping[str, str] | None = None,
    *,
    settings: Settings | None = None,
    service: Service | None = None,
    idempotency: Idempotency | None = None,
    fetch_parameter: Callable[[str], str] | None = None,
) -> Handler:
    """Build everything a handler needs, once, and return the handler.

    Parameters
    ----------
    env
        Where ``TASKCHAIN_*`` come from (``os.environ`` by default).
    settings, service, idempotency
        Ready-made parts (tests); by default built from ``env``.
    fetch_parameter
        Reads the SSM parameter named by ``TASKCHAIN_API_TOKENS_PARAMETER`` (Powertools'
        ``get_parameter`` by default).

    Raises
    ------
    ConfigError
        A variable is invalid, or no token is configured outside anonymous mode: the function
        fails at cold start, naming the variable, instead of on its first request.
    """
    settings = settings or Settings.from_env(env)
    tokens = load_tokens(settings, fetch=fetch_parameter)
    if settings.allow_anonymous:
        telemetry.logger.warning(
            "TASKCHAIN_ALLOW_ANONYMOUS is on: requests without a token act as tenant 'local'. "
            "Use it for local development only."
        )
    authenticator = Authenticator(
        tokens, header=settings.api_key_header, anonymous=settings.allow_anonymous
    )
    idempotency = idempotency or Idempotency(persistence_for(settings))
    service = service or bootstrap(env)
    resolver = build_resolver(
        service, authenticator, idempotency, api_key_header=settings.api_key_header
    )

    @telemetry.logger.inject_lambda_context(
        correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL, clear_state=True
    )
    @telemetry.metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: Any, context: Any) -> Any:
        telemetry.count("Requests")
        if is_function_url_event(event):
            return resolver.resolve(_json_body(event), context)
        # Direct invocation is authorised by IAM (lambda:InvokeFunction), not by tokens.
        telemetry.logger.set_correlation_id(getattr(context, "aws_request_id", None))
        return run_direct(service, event)

    return cast(Handler, handler)


def run_direct(service: Service, event: Any) -> dict[str, Any]:
    """The original plugin's call: a request dict (or its JSON text) in, its response dict out."""
    payload = event
    if isinstance(event, (str, bytes)):
        try:
            payload = json.loads(event)
        except ValueError:
            error = InvalidRequestError(
                "请求不是有效的 JSON", "the request is not valid JSON", code="INVALID_JSON"
            )
            telemetry.error(error.code)
            return error.to_body()
    started = time.perf_counter()
    result = service.run_safely(payload, tenant=DIRECT_TENANT)
    telemetry.run_duration((time.perf_counter() - started) * 1000)
    telemetry.bind(tenant=DIRECT_TENANT, session_id=result.get("session_id"))
    if result.get("success"):
        telemetry.outcome("run", result)
    else:
        telemetry.error(str(result.get("error_code", "INTERNAL_ERROR")))
    return result


def _json_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """``event`` with its body read as JSON whatever Content-Type says.

    The API speaks only JSON, and ``curl -d`` labels JSON as a form: without this, Powertools
    would parse the body as a form and report every field missing.
    """
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    if str(headers.get("content-type", "")).startswith("application/json"):
        return dict(event)
    return {**event, "headers": {**headers, "content-type": "application/json"}}
