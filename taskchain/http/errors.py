"""Errors only an HTTP entrypoint raises (auth, routing, size, idempotency) and their statuses."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from taskchain.errors import (
    ChainError,
    ConflictError,
    ExecutionError,
    ExecutorUnavailableError,
    InvalidRequestError,
    NotFoundError,
    StoreError,
    TaskchainError,
)


class TransportError(TaskchainError):
    """Refused before any use case ran; keeps its HTTP status on every route, Coze's included."""

    category = "REQUEST_ERROR"


class UnauthorizedError(TransportError):
    """No valid service token. One message for missing and wrong tokens: it names no tenant.

    It names both ways to send a token: ``Authorization: Bearer`` and ``header``, the API key
    header (``TASKCHAIN_API_KEY_HEADER``; its name is public in ``/openapi.json`` too).
    """

    code = "UNAUTHORIZED"
    category = "AUTHENTICATION_ERROR"

    def __init__(self, header: str = "X-Api-Key") -> None:
        super().__init__(
            f"缺少或无效的服务令牌：请用请求头 Authorization: Bearer <令牌> 或 {header}: <令牌> "
            "发送有效令牌",
            "missing or invalid service token: send a valid token as Authorization: Bearer "
            f"<token> or as {header}: <token>",
        )


class RouteNotFoundError(TransportError):
    """No route has this path."""

    code = "ROUTE_NOT_FOUND"
    category = "NOT_FOUND"

    def __init__(self, method: str, path: str) -> None:
        super().__init__(
            f"没有这个接口：{method} {path}",
            f"no such route: {method} {path}",
            details={"method": method, "path": path},
        )


class MethodNotAllowedError(TransportError):
    """The path exists, but not with this method; ``allowed`` goes into the ``Allow`` header."""

    code = "METHOD_NOT_ALLOWED"

    def __init__(self, method: str, path: str, allowed: list[str]) -> None:
        super().__init__(
            f"{path} 不支持 {method}，可用：{', '.join(allowed)}",
            f"{path} does not accept {method}; allowed: {', '.join(allowed)}",
            details={"method": method, "path": path, "allowed": allowed},
        )
        self.allowed = allowed


class PayloadTooLargeError(TransportError):
    """The request body is over the limit; nothing was parsed or stored."""

    code = "PAYLOAD_TOO_LARGE"
    category = "VALIDATION_ERROR"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"请求体过大：{size} 字节，上限 {limit} 字节",
            f"request body too large: {size} bytes, the limit is {limit}",
            details={"size": size, "limit": limit},
        )


class MalformedRequestError(TransportError):
    """Not an HTTP request that can be read: an event claiming to be one but not in the shape
    the platform delivers (a hand-made direct invocation, a broken trigger), or, on the local
    server, a malformed request line, ``Content-Length`` or chunked body. Refused before any route."""

    code = "INVALID_REQUEST"
    category = "VALIDATION_ERROR"


def malformed_event(part: str) -> MalformedRequestError:
    """The refusal of an HTTP event whose ``part`` is missing or of the wrong type."""
    return MalformedRequestError(
        f"HTTP 请求事件格式不正确：{part} 缺失或类型不对",
        f"malformed HTTP request event: {part} is missing or of the wrong type",
        details={"part": part},
    )


class IdempotencyKeyReusedError(InvalidRequestError):
    """An ``Idempotency-Key`` came back with a different body than the one it was first used with."""

    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__(
            "这个 Idempotency-Key 已用于内容不同的请求；重试时请发送完全相同的请求体，新请求请换一个新键",
            "this Idempotency-Key was already used with a different request body; retry with the "
            "identical body, or use a new key for a new request",
        )


class IdempotencyInProgressError(ConflictError):
    """The first request with this ``Idempotency-Key`` has not finished yet."""

    code = "IDEMPOTENCY_IN_PROGRESS"

    def __init__(self) -> None:
        super().__init__(
            "使用同一 Idempotency-Key 的请求仍在处理中，请稍后重试",
            "a request with the same Idempotency-Key is still in progress; retry shortly",
        )


# The one status table: taskchain's errors and the HTTP layer's own. Resolved by walking
# type(exc).__mro__, so a subclass inherits its parent's status.
HTTP_STATUS: Mapping[type[TaskchainError], int] = MappingProxyType(
    {
        TaskchainError: 500,
        InvalidRequestError: 400,
        ChainError: 422,
        ExecutorUnavailableError: 422,
        NotFoundError: 404,
        ConflictError: 409,
        ExecutionError: 500,
        StoreError: 503,
        UnauthorizedError: 401,
        RouteNotFoundError: 404,
        MethodNotAllowedError: 405,
        PayloadTooLargeError: 413,
        MalformedRequestError: 400,
        IdempotencyKeyReusedError: 422,
    }
)


def status_of(exc: BaseException) -> int:
    """The HTTP status of ``exc``: the nearest class in the table, 500 otherwise."""
    for klass in type(exc).__mro__:
        status = HTTP_STATUS.get(klass)
        if status is not None:
            return status
    return 500
