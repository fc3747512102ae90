"""The API's OpenAPI document: Powertools generates it from the routes; we put our error bodies in."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver

from taskchain.error_bodies import ErrorBody
from taskchain.http.routing import COZE_PREFIX, PUBLIC_PATHS
from taskchain.service import VERSION

DESCRIPTION = (
    "taskchain turns a goal into a chain of checked steps. REST routes (/v1) answer real HTTP "
    "statuses; Coze routes (/coze) answer 200 with success=false on business errors. Every error "
    "body is ErrorBody."
)
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_REASONS = {
    "400": "Invalid request (MISSING_REQUIRED_FIELD, INVALID_TASK_TYPE, INVALID_FIELD, INVALID_JSON)",
    "401": "Missing or invalid service token",
    "404": "No such session or run for this tenant (SESSION_NOT_FOUND)",
    "409": "Conflict with the session's state (STALE_VERSION, STEP_NOT_READY, ...)",
    "413": "Body over 256 KB (PAYLOAD_TOO_LARGE)",
    "422": "Chain cannot be built (INVALID_CUSTOM_CHAIN), executor llm without a configured "
    "model (EXECUTOR_UNAVAILABLE), or Idempotency-Key reused",
    "503": "Store unavailable (STORE_UNAVAILABLE), or a run stored but not handed to its "
    "background engine (RUN_NOT_LAUNCHED); see Retry-After",
}


def document(app: LambdaFunctionUrlResolver, *, api_key_header: str) -> dict[str, Any]:
    """The OpenAPI document of every route of ``app``, as JSON-ready data."""
    # Imported here: Powertools' OpenAPI models cost ~40 ms that a cold start need not pay.
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    schema = app.get_openapi_schema(
        title="taskchain",
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={
            "bearer": HTTPBearer(description="Authorization: Bearer <service token>"),
            "apiKey": APIKey(name=api_key_header, in_=APIKeyIn.header),
        },
    )
    doc: dict[str, Any] = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    # Powertools documents its own 422 validation body and its 500 for an answer that breaks
    # the route's model; ours are ErrorBody with 400 and 500 (the generic internal error).
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    if "ErrorBody" not in schemas:  # the Coze routes' 200s bring it in; the REST errors use it too
        error = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error.pop("$defs", {}))
        schemas["ErrorBody"] = error
    _require_custom_chain(schemas)
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.pop("500", None)
            if path in PUBLIC_PATHS:
                # A malformed query (?deep=maybe) is refused; /health answers 503 when unhealthy.
                responses["400"] = {
                    "description": _REASONS["400"],
                    "content": {"application/json": {"schema": _ERROR_REF}},
                }
                if path == "/health":
                    responses["503"] = {
                        "description": "Unhealthy: the store check failed (deep=true)",
                        "content": dict(responses["200"]["content"]),
                    }
                continue
            operation["security"] = [{"bearer": []}, {"apiKey": []}]
            for status in _statuses(path, method):
                responses[status] = {
                    "description": _REASONS[status],
                    "content": {"application/json": {"schema": _ERROR_REF}},
                }
    return doc


def _require_custom_chain(schemas: dict[str, Any]) -> None:
    """``task_type: custom`` needs a non-empty ``custom_chain`` (else MISSING_REQUIRED_FIELD)."""
    chain = schemas.get("ChainRequest")
    if chain is not None:
        chain["if"] = {"properties": {"task_type": {"const": "custom"}}, "required": ["task_type"]}
        chain["then"] = {
            "properties": {"custom_chain": {"type": "array", "minItems": 1}},
            "required": ["custom_chain"],
        }


def _statuses(path: str, method: str) -> list[str]:
    """The error statuses an operation can answer."""
    if path.startswith(COZE_PREFIX):
        # Every other error is a 200 body on Coze routes; refusals before any route keep theirs.
        return ["401", "413"] if method == "post" else ["401"]
    statuses = ["400", "401", "503"]
    if "{session_id}" in path or "{run_id}" in path:
        statuses.append("404")
    if method == "post":  # conflicts include IDEMPOTENCY_IN_PROGRESS, 422 IDEMPOTENCY_KEY_REUSED
        statuses += ["409", "413", "422"]
    return sorted(statuses)
