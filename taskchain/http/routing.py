"""HTTP plumbing every route shares: the gate (token, size), the one error handler, 404/405, language."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, cast

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteMissing
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ValidationException,
)
from aws_lambda_powertools.shared.json_encoder import Encoder

from taskchain import jsontext
from taskchain.errors import (
    InvalidRequestError,
    StoreError,
    TaskchainError,
    internal_error_body,
    invalid_field,
    invalid_json,
    may_concern_a_session,
)
from taskchain.http import telemetry
from taskchain.http.auth import Authenticator
from taskchain.http.errors import (
    MethodNotAllowedError,
    PayloadTooLargeError,
    RouteNotFoundError,
    TransportError,
    status_of,
)
from taskchain.request_errors import translate
from taskchain.request_fields import ID_PATTERN
from taskchain.text import clean

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

# Every response body: compact, with Chinese kept as UTF-8 (a third of the size of JSON escapes).
to_json: Callable[[Any], str] = partial(
    json.dumps, separators=(",", ":"), ensure_ascii=False, cls=Encoder
)
MAX_BODY_BYTES = 256 * 1024
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
COZE_PREFIX = "/coze/"
# Coze's caller headers, most specific first: the Coze user's UID (same enterprise only), the
# per-developer OpenID, and the user_id given when a bot is called through Coze's API.
END_USER_HEADERS = ("x-aiplugin-uid", "x-aiplugin-openid", "x-aiplugin-connector-identifier")
MAX_END_USER_CHARS = 128
MAX_ID_CHARS = 128  # the bound the routes put on a session, step or run id
_SURROGATE = re.compile(r"[\ud800-\udfff]")
NOT_BASE64 = (
    "标记为 base64 编码，却不是有效的 base64",
    "flagged base64-encoded, but not valid base64",
)
# What Powertools' validation raises about a body before any of our middleware has run.
_BAD_INPUT = (
    RequestValidationError,
    RequestUnsupportedContentType,
    UnicodeError,  # a body that is not UTF-8, or (hand-made, flagged base64) holds a surrogate
    binascii.Error,
    json.JSONDecodeError,
)


class SessionLanguage(Protocol):
    """Says a session's language (:meth:`taskchain.service.Service.session_language`)."""

    def __call__(self, tenant: str, session_id: str, *, end_user: str | None = None) -> str | None:
        """``zh`` or ``en``; ``None`` when this caller can see no such session."""
        ...


def tenant(app: LambdaFunctionUrlResolver) -> str:
    """The tenant the gate authenticated for this request."""
    return cast(str, app.context["tenant"])


def end_user(app: LambdaFunctionUrlResolver) -> str | None:
    """The calling end user from Coze's caller headers, if any (header names are case-insensitive)."""
    headers = app.current_event.headers
    for name in END_USER_HEADERS:
        value = clean(headers.get(name) or "")
        if value:
            return value[:MAX_END_USER_CHARS]
    return None


def _payload(app: LambdaFunctionUrlResolver) -> Any:
    """The request's JSON body, or ``None`` when there is none that can be read."""
    try:
        return app.current_event.json_body
    except ValueError:  # not JSON, not UTF-8, not base64: the error is about the body itself
        return None


def asked_language(app: LambdaFunctionUrlResolver) -> str | None:
    """The language the request asks for: ``config.language`` of the body, else ``?language=``,
    else ``Accept-Language``; a value naming neither Chinese nor English ("fr") is passed over
    (``None`` when none names one)."""
    event = app.current_event
    payload = _payload(app)
    config = payload.get("config") if isinstance(payload, dict) else None
    for asked in (
        config.get("language") if isinstance(config, dict) else None,
        event.get_query_string_value("language"),
    ):
        said = asked.strip().lower()[:2] if isinstance(asked, str) else ""
        if said in ("zh", "en"):
            return said
    return accepted_language(event.headers.get("accept-language"))


def language(app: LambdaFunctionUrlResolver) -> str:
    """The language the request asks for (:func:`asked_language`); Chinese by default."""
    return asked_language(app) or "zh"


def error_language(
    app: LambdaFunctionUrlResolver,
    exc: BaseException,
    routes: RouteTable,
    session_language: SessionLanguage,
) -> str:
    """The language of an error's message: the one the request asks for; else, for an error
    about a session the caller may see, that session's (a Coze bot can send no header, and its
    session was started in the language its user speaks); else Chinese."""
    asked = asked_language(app)
    if asked is not None:
        return asked
    who = app.context.get("tenant")  # absent when the gate refused the caller
    if who is None or isinstance(exc, TransportError) or not may_concern_a_session(exc):
        return "zh"
    session_id = named_session(app, routes)
    if session_id is None:
        return "zh"
    return session_language(who, session_id, end_user=end_user(app)) or "zh"


def named_session(app: LambdaFunctionUrlResolver, routes: RouteTable) -> str | None:
    """The session (or run) a request is about: a ``session_id`` or ``run_id`` in its path on
    REST routes, in its body on Coze routes; ``None`` when it names none this service makes."""
    event = app.current_event
    named = _payload(app) if event.path.startswith(COZE_PREFIX) else routes.arguments(event.path)
    if not isinstance(named, dict):
        return None
    found = named.get("session_id") or named.get("run_id")
    # Only what could be an id is looked up: a hostile value never reaches the store.
    if isinstance(found, str) and len(found) <= MAX_ID_CHARS and re.fullmatch(ID_PATTERN, found):
        return found
    return None


def accept_language(header: str | None) -> str:
    """The best of ``zh`` and ``en`` in an ``Accept-Language`` header (``zh`` when neither)."""
    return accepted_language(header) or "zh"


def accepted_language(header: str | None) -> str | None:
    """The best of ``zh`` and ``en`` in an ``Accept-Language`` header (``None`` when neither)."""
    best: str | None = None
    best_q = -1.0
    for part in (header or "").split(","):
        tag, _, params = part.strip().lower().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = "en" if tag.startswith("en") else "zh" if tag.startswith("zh") else None
        if lang is not None and q > best_q:
            best, best_q = lang, q
    return best


def body_size(app: LambdaFunctionUrlResolver) -> int:
    """The size in bytes of the request body as sent (base64-decoded length when encoded)."""
    event = app.current_event
    raw = event.body or ""
    if event.is_base64_encoded:
        return len(raw) * 3 // 4 - raw[-2:].count("=")
    return len(raw.encode("utf-8", "surrogatepass"))  # a hand-made body may hold one


def check_encoding(app: LambdaFunctionUrlResolver) -> None:
    """Refuse a body flagged base64 that is not, and text that is not valid Unicode.

    Powertools decodes base64 leniently (``"!!!!"`` is an empty body, reported as a missing
    field); and a path, header or query value with an unpaired surrogate (only a hand-made event
    can carry one) can be neither stored nor answered.

    Raises
    ------
    InvalidRequestError
        ``INVALID_JSON`` for the body; ``INVALID_FIELD`` naming the header or query parameter,
        or ``path``.
    """
    event = app.current_event
    if event.is_base64_encoded and event.body:
        try:
            base64.b64decode(event.body, validate=True)
        except (binascii.Error, ValueError):
            raise invalid_json(NOT_BASE64) from None
    fields = [("path", event.path)]
    fields += list(event.headers.items()) + list(event.query_string_parameters.items())
    for name, value in fields:
        if _SURROGATE.search(name) or _SURROGATE.search(value):
            raise invalid_field(
                name.encode("utf-8", "backslashreplace").decode(),
                "含有无效的 Unicode 字符（未配对的 UTF-16 代理项）",
                "holds invalid Unicode (an unpaired UTF-16 surrogate)",
            )


class Gate:
    """Authenticates the caller and bounds the body before any route runs.

    Parameters
    ----------
    authenticator
        Maps the request's token to its tenant.
    """

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    def check(self, app: LambdaFunctionUrlResolver) -> None:
        """Set ``app.context["tenant"]`` or raise; token first, so strangers learn nothing else.

        Raises
        ------
        UnauthorizedError
            No valid token (except on the public paths).
        PayloadTooLargeError
            The body is over :data:`MAX_BODY_BYTES`.
        """
        if app.current_event.path not in PUBLIC_PATHS:
            who = self.authenticator.tenant(app.current_event.headers)
            app.context["tenant"] = who  # Powertools clears the context after each request
            telemetry.bind(tenant=who)
        size = body_size(app)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLargeError(size, MAX_BODY_BYTES)
        check_encoding(app)

    def middleware(
        self, app: LambdaFunctionUrlResolver, next_middleware: NextMiddleware
    ) -> Response[Any]:
        """The gate as a Powertools middleware (runs for every route, unknown ones included)."""
        self.check(app)
        return next_middleware(app)


def install(
    app: LambdaFunctionUrlResolver,
    gate: Gate,
    routes: RouteTable,
    session_language: SessionLanguage,
) -> None:
    """Register the one exception handler every route's errors go through (404s included).

    ``routes`` lists the methods a path has, to tell 405 from 404, and finds the session a
    request names; ``session_language`` says that session's language (see :func:`error_language`).
    """

    def on_error(exc: Exception) -> Response[Any]:
        error: BaseException = exc
        if isinstance(exc, _BAD_INPUT):
            # Powertools validates before our middleware: the token and the size check outrank
            # a verdict on the body, so an unauthenticated caller learns nothing about it.
            try:
                gate.check(app)
                error = input_error(exc)
            except TaskchainError as refused:
                error = refused
        elif isinstance(exc, RouteMissing):
            event = app.current_event
            allowed = routes.allowed(event.path)
            error = (
                MethodNotAllowedError(event.http_method, event.path, allowed)
                if allowed
                else RouteNotFoundError(event.http_method, event.path)
            )
        return render(app, error, error_language(app, error, routes, session_language))

    app.exception_handler(Exception)(on_error)


def render(app: LambdaFunctionUrlResolver, exc: BaseException, lang: str) -> Response[Any]:
    """The error response in ``lang``: our body, the status from the tables, and the headers it
    calls for.

    On ``/coze/`` routes every error a use case or its input raised answers 200 with
    ``success: false`` (Coze shows the model the body, not the status); refusals before any use
    case ran (401, 404, 405, 413) keep their status there too.
    """
    if isinstance(exc, TaskchainError):
        payload, status = exc.to_body(lang), status_of(exc)
        if status >= 500:
            telemetry.logger.warning("request failed", extra={"error_code": exc.code}, exc_info=exc)
    else:
        # The stack trace goes to the logs only; the caller gets the generic body.
        telemetry.logger.exception("unexpected error", exc_info=exc)
        payload, status = internal_error_body(lang), 500
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="taskchain"'
    if isinstance(exc, MethodNotAllowedError):
        headers["Allow"] = ", ".join(exc.allowed)
    if isinstance(exc, StoreError):
        headers["Retry-After"] = str(retry_after(exc))
    telemetry.error(str(payload["error_code"]))
    if app.current_event.path.startswith(COZE_PREFIX) and not isinstance(exc, TransportError):
        status = 200
    return Response(status, "application/json", payload, headers)


def retry_after(exc: StoreError) -> int:
    """Whole seconds to wait, from ``details["retry_after"]`` (1 when absent or unusable)."""
    try:
        return max(1, math.ceil(float(exc.details.get("retry_after", 1))))
    except (TypeError, ValueError):
        return 1


def input_error(exc: Exception) -> InvalidRequestError:
    """Our error for a body or query Powertools could not decode or validate.

    Powertools validates with the route's own pydantic models, so its first error translates
    into the same precise code :func:`taskchain.requests.parse` gives (``MISSING_REQUIRED_FIELD``,
    ``INVALID_TASK_TYPE``, ``INVALID_CUSTOM_CHAIN``, ``INVALID_FIELD``).
    """
    errors: Sequence[Any] = exc.errors() if isinstance(exc, ValidationException) else []
    if not errors or errors[0].get("type") in ("json_invalid", "unsupported_content_type"):
        cause = exc.__cause__
        return invalid_json(cause.reason if isinstance(cause, jsontext.UnusableJsonError) else None)
    first = dict(errors[0])
    # Powertools locates a value from where it came (``("body", "config", "depth")``); our
    # codes name the field itself, as ``parse`` does.
    loc = tuple(first.get("loc") or ())
    first["loc"] = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
    return translate([first])


class RouteTable:
    """Registers routes on the resolver and remembers them, to tell 405 from 404.

    ``rule`` uses Powertools' syntax (``/v1/sessions/<session_id>``).
    """

    def __init__(self, app: LambdaFunctionUrlResolver) -> None:
        self.app = app
        self._rules: list[tuple[str, str]] = []

    def __call__(self, method: str, rule: str, **options: Any) -> Callable[[Any], Any]:
        """``app.route(rule, method, **options)``, recorded."""
        # A pattern, compiled (and cached by re) on the first error, not at cold start.
        pattern = "^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", rule) + "$"
        self._rules.append((method.upper(), pattern))
        return cast(Callable[[Any], Any], self.app.route(rule, method.upper(), **options))

    def allowed(self, path: str) -> list[str]:
        """The methods registered for ``path`` (empty when no route has it)."""
        return sorted({method for method, pattern in self._rules if re.match(pattern, path)})

    def arguments(self, path: str) -> dict[str, str]:
        """The named parts of ``path`` (``{"session_id": ...}``) in the first route that has it."""
        for _, pattern in self._rules:
            if found := re.match(pattern, path):
                return found.groupdict()
        return {}
