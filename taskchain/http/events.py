"""Lambda function URL (payload 2.0) events and a local Lambda context, for local runs and tests."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

MAX_FUNCTION_URL_PAYLOAD = 6 * 1024 * 1024  # what a function URL accepts at all


@dataclass
class LocalContext:
    """The parts of a Lambda context that Powertools and taskchain read."""

    function_name: str = "taskchain-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:taskchain-local"
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/taskchain-local"
    timeout_ms: int = 30_000
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (pretend) function timeout."""
        return max(0, self.timeout_ms - int((time.monotonic() - self.started) * 1000))


def is_function_url_event(event: Any) -> bool:
    """Whether ``event`` claims to be an HTTP request in payload format 2.0 (function URL, HTTP
    API); :func:`malformed_part` tells whether it is one in the shape Lambda delivers."""
    return (
        isinstance(event, Mapping)
        and event.get("version") == "2.0"
        and ("rawPath" in event or "requestContext" in event)
    )


def _strings(value: Any) -> bool:
    """Whether ``value`` maps strings to strings (headers, query parameters)."""
    return isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def malformed_part(event: Mapping[str, Any]) -> str | None:
    """The first part of a payload-2.0 event not in the shape Lambda delivers, or ``None``.

    Lambda never sends such events; a direct invocation or a broken trigger can, and the HTTP
    application must answer them (400) rather than fail on them.
    """
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, Mapping) else None
    method = http.get("method") if isinstance(http, Mapping) else None
    if not isinstance(method, str) or not method.strip():
        return "requestContext.http.method"
    if not isinstance(event.get("rawPath"), str):
        return "rawPath"
    for name in ("rawQueryString", "body"):
        if event.get(name) is not None and not isinstance(event[name], str):
            return name
    for name in ("headers", "queryStringParameters"):
        if event.get(name) is not None and not _strings(event[name]):
            return name
    cookies = event.get("cookies")
    if cookies is not None and not (
        isinstance(cookies, list) and all(isinstance(c, str) for c in cookies)
    ):
        return "cookies"
    flag = event.get("isBase64Encoded")
    if flag is not None and not isinstance(flag, bool):
        return "isBase64Encoded"
    return None


def http_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | str | None = None,
    body: Any = None,
    base64_body: bool = False,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """A function URL event as Lambda delivers it.

    Parameters
    ----------
    headers
        Header names are lower-cased, as function URLs deliver them.
    query
        A mapping, or a raw query string (``"limit=5&user=u1"``).
    body
        ``str`` or ``bytes`` as is; anything else is JSON-encoded.
    base64_body
        Deliver the body base64-encoded (``isBase64Encoded: true``), as Lambda does for binary.
    """
    raw_query = query if isinstance(query, str) else urlencode(dict(query or {}))
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value  # as Lambda joins
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    raw: bytes | None
    if body is None:
        raw = None
    elif isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = json.dumps(body, ensure_ascii=False).encode()
        lowered.setdefault("content-type", "application/json")
    now = time.time()
    request_id = request_id or str(uuid.uuid4())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"host": "localhost", **lowered},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", "taskchain-local"),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(base64_body and raw is not None),
    }
    if params:
        event["queryStringParameters"] = params
    if raw is not None:
        event["body"] = base64.b64encode(raw).decode() if base64_body else raw.decode()
    return event


def response_body(response: Mapping[str, Any]) -> bytes:
    """The body of a function URL response, base64-decoded when flagged."""
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode()
