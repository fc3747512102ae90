"""Aliyun Function Compute 3.0 HTTP-trigger events, translated to and from function-URL events.

FC passes ``event`` as bytes: JSON of ``{version, rawPath, headers, queryParameters, body,
isBase64Encoded, requestContext{accountId, domainName, http{method, path, protocol, sourceIp,
userAgent}, requestId, time, timeEpoch}}``, repeated header and query values comma-joined. The
HTTP application speaks payload 2.0 (what a Lambda function URL sends), so an FC request is
rewritten into that shape, served, and its answer returned as ``{statusCode, headers, body,
isBase64Encoded}`` — the same semantics on both clouds, by construction.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

# FC's default timeout is 3 s and the maximum 86,400 s; the deployed value comes from s.yaml.
_DEFAULT_TIMEOUT_MS = 60_000


def is_fc_http_event(event: Any) -> bool:
    """Whether ``event`` (already decoded from JSON) is an FC HTTP-trigger request."""
    return (
        isinstance(event, Mapping)
        and "version" in event
        and ("rawPath" in event or "requestContext" in event)
    )


def to_function_url(event: Mapping[str, Any]) -> dict[str, Any]:
    """The function-URL (payload 2.0) form of an FC HTTP-trigger event.

    Malformed parts are passed on as they are: the HTTP application answers them with a 400
    (:func:`taskchain.http.events.malformed_part`).
    """
    context = event.get("requestContext")
    context = context if isinstance(context, Mapping) else {}
    http = context.get("http")
    http = http if isinstance(http, Mapping) else {}
    headers = event.get("headers")
    query = event.get("queryParameters")
    raw_query = ""
    if isinstance(query, Mapping) and all(isinstance(v, str) for v in query.values()):
        # surrogatepass: a value with an unpaired surrogate is refused by the application.
        raw_query = urlencode({str(k): v for k, v in query.items()}, errors="surrogatepass")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": event.get("rawPath"),
        "rawQueryString": raw_query,
        # Function URLs deliver header names in lower case; FC keeps the client's spelling.
        "headers": {str(k).lower(): v for k, v in headers.items()}
        if isinstance(headers, Mapping)
        else headers,
        "queryStringParameters": dict(query) if isinstance(query, Mapping) else query,
        "requestContext": {
            "accountId": context.get("accountId", "anonymous"),
            "apiId": "fc",
            "domainName": context.get("domainName", "localhost"),
            "domainPrefix": context.get("domainPrefix", "fc"),
            "http": {
                "method": http.get("method"),
                "path": http.get("path", event.get("rawPath")),
                "protocol": http.get("protocol", "HTTP/1.1"),
                "sourceIp": http.get("sourceIp", ""),
                "userAgent": http.get("userAgent", ""),
            },
            "requestId": context.get("requestId", ""),
            "routeKey": "$default",
            "stage": "$default",
            "time": context.get("time", ""),
            "timeEpoch": context.get("timeEpoch", 0),
        },
        "body": event.get("body"),
        "isBase64Encoded": event.get("isBase64Encoded", False),
    }


def to_fc_response(response: Mapping[str, Any]) -> dict[str, Any]:
    """An HTTP application answer in the shape an FC HTTP trigger returns."""
    return {
        "statusCode": response.get("statusCode", 200),
        "headers": dict(response.get("headers") or {}),
        "body": response.get("body", ""),
        "isBase64Encoded": bool(response.get("isBase64Encoded")),
    }


@dataclass
class FcContext:
    """An FC context seen as the Lambda context Powertools and taskchain read.

    ``request_id`` comes from FC's ``context.request_id``; the remaining time from the function's
    timeout (``FC_FUNCTION_TIMEOUT`` is not set by FC, so ``timeout_ms`` is passed in).
    """

    aws_request_id: str
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    function_version: str = "LATEST"
    log_group_name: str = "fc"
    timeout_ms: int = _DEFAULT_TIMEOUT_MS
    started: float = 0.0

    @classmethod
    def of(cls, context: Any, *, timeout_ms: int = _DEFAULT_TIMEOUT_MS) -> FcContext:
        """The Lambda-like view of FC's ``context`` (any attribute may be missing locally)."""
        function = getattr(context, "function", None)
        name = getattr(function, "name", None) or os.environ.get("FC_FUNCTION_NAME", "taskchain")
        memory = getattr(function, "memory", None) or os.environ.get("FC_FUNCTION_MEMORY_SIZE")
        region = getattr(context, "region", None) or os.environ.get("FC_REGION", "local")
        account = getattr(context, "account_id", None) or os.environ.get("FC_ACCOUNT_ID", "0")
        return cls(
            aws_request_id=str(getattr(context, "request_id", "") or ""),
            function_name=str(name),
            memory_limit_in_mb=int(memory or 512),
            invoked_function_arn=f"acs:fc:{region}:{account}:functions/{name}",
            timeout_ms=timeout_ms,
            started=time.monotonic(),
        )

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out."""
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))
