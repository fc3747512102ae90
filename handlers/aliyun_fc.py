"""Aliyun Function Compute 3.0 entrypoint, ``handlers.aliyun_fc.handler(event, context)``.

FC passes ``event`` as bytes. An HTTP-trigger request is rewritten as the function-URL event the
HTTP application serves (:mod:`taskchain.http.fc`) and answered as ``{statusCode, headers, body,
isBase64Encoded}``; any other event is an invocation of the one-shot contract (the request JSON,
or a JSON string of it), answered as a dict and never raised. Request id and STS credentials
come from ``context``; the function timeout from ``TASKCHAIN_FUNCTION_TIMEOUT_MS``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from taskchain.bootstrap import Handler, cached_handler
from taskchain.http.fc import FcContext, is_fc_http_event, to_fc_response, to_function_url

_TIMEOUT_MS = int(os.environ.get("TASKCHAIN_FUNCTION_TIMEOUT_MS", "60000") or "60000")
_CREDENTIALS = {  # where the Tablestore clients read the role's keys, refreshed per invocation
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "access_key_id",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "access_key_secret",
    "ALIBABA_CLOUD_SECURITY_TOKEN": "security_token",
}


def handler(event: Any, context: Any) -> Any:
    """Serve one FC invocation with the handler built for this instance (on its first call)."""
    return serve(cached_handler(), event, context)


def serve(inner: Handler, event: Any, context: Any) -> Any:
    """Serve one FC invocation with ``inner``, the handler every platform shares."""
    for name, attribute in _CREDENTIALS.items():
        if value := getattr(getattr(context, "credentials", None), attribute, None):
            os.environ[name] = str(value)
    lambda_like = FcContext.of(context, timeout_ms=_TIMEOUT_MS)
    payload = _decoded(event)
    if is_fc_http_event(payload):
        return to_fc_response(inner(to_function_url(payload), lambda_like))
    return inner(payload, lambda_like)


def _decoded(event: Any) -> Any:
    """``event`` read as JSON when it is bytes or text; as it is when it is not JSON."""
    if isinstance(event, (bytes, bytearray)):
        event = event.decode("utf-8", "replace")
    if isinstance(event, str):
        try:
            return json.loads(event)
        except (ValueError, RecursionError):
            return event  # the one-shot contract answers INVALID_JSON
    return event
