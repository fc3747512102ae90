"""The function URL API: one Powertools resolver with the REST, Coze and OpenAPI routes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver

from taskchain import jsontext
from taskchain.http import coze, rest
from taskchain.http.auth import Authenticator
from taskchain.http.idempotency import Idempotency
from taskchain.http.routing import Gate, RouteTable, install, to_json
from taskchain.service import Service


def build_resolver(
    service: Service,
    authenticator: Authenticator,
    idempotency: Idempotency,
    *,
    api_key_header: str = "X-Api-Key",
) -> LambdaFunctionUrlResolver:
    """The resolver for every HTTP route.

    Powertools parses each route's query and body with its models, once (their errors become
    our precise codes in :func:`taskchain.http.routing.input_error`), serializes the answer
    with the route's return model, and documents both. Middleware order: the gate (token,
    size), then idempotency, then the route. An error about a session is worded in the
    session's language unless the request asks for one (:func:`~taskchain.http.routing.error_language`).
    """
    # An answer that breaks its route's model is our bug (500), never the caller's (400).
    # Bodies are read with jsontext.loads: deep nesting, huge integers, NaN and unpaired
    # surrogates are bad JSON (400 INVALID_JSON), never a RecursionError or a 500.
    app = LambdaFunctionUrlResolver(
        enable_validation=True,
        serializer=to_json,
        response_validation_error_http_code=500,
        json_body_deserializer=jsontext.loads,
    )
    route = RouteTable(app)
    rest.register(route, service)
    coze.register(route, service)
    cached: list[dict[str, Any]] = []

    @route("GET", "/openapi.json", operation_id="openapi", summary="This document", tags=["health"])
    def openapi() -> dict[str, Any]:
        # Generated on first request, not at cold start: it costs ~100 ms and few ask for it.
        from taskchain.http.openapi import document

        if not cached:
            cached.append(document(app, api_key_header=api_key_header))
        return cached[0]

    gate = Gate(authenticator)
    app.use([gate.middleware, idempotency.middleware])
    install(app, gate, route, service.session_language)
    return app
