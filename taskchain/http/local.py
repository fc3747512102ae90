"""A local HTTP server on 127.0.0.1 that runs each request through the Lambda handler.

Every request becomes a function URL event (payload 2.0) for the same handler Lambda runs,
built from the environment: the SQLite store by default, DynamoDB when
``TASKCHAIN_STORE=dynamodb``. Tokens are required unless ``TASKCHAIN_ALLOW_ANONYMOUS=true``.

Handler calls are serialised with a lock. Powertools' resolver keeps the request being handled
on the resolver (``current_event``, ``context``) and even on its class, which is right for
Lambda, where one process handles one request at a time, and wrong for two threads at once.
The server still accepts connections in threads, so a slow client cannot block the others.
Runs started by ``POST /v1/runs`` are worked by background threads
(:class:`~taskchain.launchers.ThreadLauncher`) that call the service itself, outside that lock.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from taskchain.bootstrap import Handler, make_handler
from taskchain.config import ConfigError
from taskchain.errors import TaskchainError
from taskchain.http import telemetry
from taskchain.http.errors import MalformedRequestError, PayloadTooLargeError
from taskchain.http.events import (
    MAX_FUNCTION_URL_PAYLOAD,
    LocalContext,
    http_event,
    response_body,
)
from taskchain.http.routing import accept_language, to_json

READ_TIMEOUT_SECONDS = 30
# The time a request may take, as a function URL allows at most: a one-shot run or a run's
# continuation works until shortly before it (taskchain.launchers.invocation_budget).
REQUEST_TIME_MS = 15 * 60 * 1000


class LocalServer(ThreadingHTTPServer):
    """A threading HTTP server holding the handler and the lock around it."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: Handler,
        *,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(address, _RequestHandler)
        self.handler = handler
        self.lock = threading.Lock()
        self.read_timeout = read_timeout  # seconds a client may take to send what it announced

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Refused(Exception):
    """A request the server answers itself, before any event is built."""

    def __init__(self, status: int, error: TaskchainError) -> None:
        super().__init__(error.code)
        self.status, self.error = status, error


def _malformed(en: str, zh: str) -> MalformedRequestError:
    return MalformedRequestError(f"HTTP 请求格式不正确：{zh}", f"malformed HTTP request: {en}")


def _utf8(text: str) -> str:
    """http.server reads the request line and headers as Latin-1: the UTF-8 text they carry."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


class _RequestHandler(BaseHTTPRequestHandler):
    """Translates one HTTP exchange to and from a function URL event.

    Every request gets a JSON answer: a malformed one (bad request line, ``Content-Length`` or
    chunked body, a body cut short) a JSON 4xx from here, any method the handler's own 404/405.
    """

    server: LocalServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout)  # a client that stalls gets 408

    def __getattr__(self, name: str) -> Any:
        # Every method goes to the handler (TRACE, PROPFIND ...): it answers 405 or 404 in JSON.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        try:
            raw = self._body()
            target = self.path.encode("latin-1").decode("utf-8")
        except _Refused as refused:
            self._refuse(refused.status, refused.error)
            return
        except UnicodeError:
            self._refuse(
                400, _malformed("the request target is not UTF-8 text", "请求路径不是 UTF-8 文本")
            )
            return
        try:
            text, binary = (raw.decode(), False) if raw is not None else (None, False)
        except UnicodeDecodeError:
            text, binary = None, True  # Lambda delivers such bodies base64-encoded
        headers: dict[str, str] = {}
        for name, value in self.headers.items():  # repeated headers comma-joined, as Lambda does
            name, value = name.lower(), _utf8(value)
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        url = urlsplit(target)
        event = http_event(
            self.command,
            url.path,
            headers=headers,
            query=url.query,
            body=raw if binary else text,
            base64_body=binary,
            source_ip=self.client_address[0],
        )
        try:
            with self.server.lock:
                response = self.server.handler(event, LocalContext(timeout_ms=REQUEST_TIME_MS))
            status, payload = int(response["statusCode"]), response_body(response)
        except Exception:  # the handler never raises; if it ever does, still answer JSON
            telemetry.logger.exception("local server: the handler raised")
            self._refuse(500, TaskchainError("内部错误", "internal error"))
            return
        self._send(status, response.get("headers") or {}, payload)

    def _body(self) -> bytes | None:
        """The request body (``None`` without one), read exactly; refused when malformed."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._chunked()
        declared = (self.headers.get("Content-Length") or "").strip()
        if not declared:
            return None
        if not re.fullmatch(r"[0-9]{1,15}", declared):
            raise _Refused(
                400,
                _malformed(
                    "Content-Length is not a non-negative integer", "Content-Length 不是非负整数"
                ),
            )
        length = int(declared)
        if length > MAX_FUNCTION_URL_PAYLOAD:  # what a function URL refuses before Lambda runs
            raise _Refused(413, PayloadTooLargeError(length, MAX_FUNCTION_URL_PAYLOAD))
        return self._read(length) if length else None

    def _chunked(self) -> bytes:
        """A ``Transfer-Encoding: chunked`` body, decoded (trailers are read and dropped)."""
        body = bytearray()
        while True:
            size = self._readline().split(b";")[0].strip()
            if not re.fullmatch(rb"[0-9a-fA-F]{1,8}", size):
                raise _Refused(
                    400,
                    _malformed(
                        "a chunk size is not a hexadecimal number", "分块大小不是十六进制数"
                    ),
                )
            length = int(size, 16)
            if len(body) + length > MAX_FUNCTION_URL_PAYLOAD:
                raise _Refused(
                    413, PayloadTooLargeError(len(body) + length, MAX_FUNCTION_URL_PAYLOAD)
                )
            if length == 0:
                while self._readline().strip():
                    pass
                return bytes(body)
            body += self._read(length)
            self._readline()

    def _read(self, length: int) -> bytes:
        try:
            data = self.rfile.read(length)
        except TimeoutError:
            raise _Refused(
                408, _malformed("the body did not arrive in time", "请求体未及时到达")
            ) from None
        if len(data) < length:
            raise _Refused(
                400,
                _malformed("the body is shorter than Content-Length", "请求体比 Content-Length 短"),
            )
        return data

    def _readline(self) -> bytes:
        try:
            line = self.rfile.readline(1024)
        except TimeoutError:
            raise _Refused(
                408, _malformed("the body did not arrive in time", "请求体未及时到达")
            ) from None
        if not line:
            raise _Refused(400, _malformed("the chunked body ended early", "分块请求体提前结束"))
        return line

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (request line, headers) as JSON 4xx, never an HTML page."""
        self.log_error("code %d, message %s", code, message)
        status = code if 400 <= code < 500 else 400  # 501 method, 505 version: still the request
        self._refuse(status, _malformed(message or "unreadable", "请求行或请求头无法解析"))

    def _refuse(self, status: int, error: TaskchainError) -> None:
        """Answer ``error`` as our JSON error body and close the connection."""
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.1"  # answer with a status line and headers
        payload = to_json(error.to_body(accept_language(self._header("Accept-Language")))).encode()
        headers = {"Content-Type": "application/json", "Connection": "close"}
        self._send(status, headers, payload)

    def _header(self, name: str) -> str | None:
        headers = getattr(self, "headers", None)  # absent when the request line was unreadable
        return headers.get(name) if headers is not None else None

    def _send(self, status: int, headers: Mapping[str, Any], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            for item in value if isinstance(value, list) else [value]:
                self.send_header(name, str(item))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def make_server(
    host: str = "127.0.0.1",
    port: int = 8080,
    env: Mapping[str, str] | None = None,
    *,
    handler: Handler | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> LocalServer:
    """A server bound to ``host:port`` (``port=0``: any free port), not yet serving.

    Raises
    ------
    ConfigError
        The environment is not a usable configuration (see :func:`taskchain.bootstrap.make_handler`).
    """
    handler = handler or make_handler(env, background=True)  # runs go on in background threads
    return LocalServer((host, port), handler, read_timeout=read_timeout)


def serve(host: str = "127.0.0.1", port: int = 8080, env: Mapping[str, str] | None = None) -> None:
    """Serve until interrupted, printing the URL first."""
    with make_server(host, port, env) as server:
        print(f"taskchain API on {server.url}  (GET {server.url}/health; Ctrl+C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


def run(host: str = "127.0.0.1", port: int = 8080, env: Mapping[str, str] | None = None) -> int:
    """:func:`serve` for a command line: the exit code, 0 once interrupted.

    An invalid configuration (no token configured, say) or an address that cannot be bound (the
    port is taken, out of range, or the host unknown) is one line on stderr and exit code 2.
    """
    try:
        serve(host, port, env)
    except ConfigError as exc:
        print(f"taskchain: {exc.message('en')}", file=sys.stderr)
        return 2
    except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0-65535
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"taskchain: cannot listen on {host}:{port}: {why}", file=sys.stderr)
        return 2
    return 0
