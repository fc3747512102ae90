"""A local HTTP server on 127.0.0.1 that runs each request through the Lambda handler.

Every request becomes a function URL event (payload 2.0) for the same handler Lambda runs,
built from the environment: the SQLite store by default, DynamoDB when
``TASKCHAIN_STORE=dynamodb``. Tokens are required unless ``TASKCHAIN_ALLOW_ANONYMOUS=true``.

Handler calls are serialised with a lock. Powertools' resolver keeps the request being handled
on the resolver (``current_event``, ``context``) and even on its class, which is right for
Lambda, where one process handles one request at a time, and wrong for two threads at once.
The server still accepts connections in threads, so a slow client cannot block the others.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from taskchain.bootstrap import Handler, make_handler
from taskchain.http.events import (
    MAX_FUNCTION_URL_PAYLOAD,
    LocalContext,
    http_event,
    response_body,
)


class LocalServer(ThreadingHTTPServer):
    """A threading HTTP server holding the handler and the lock around it."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Handler) -> None:
        super().__init__(address, _RequestHandler)
        self.handler = handler
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _RequestHandler(BaseHTTPRequestHandler):
    """Translates one HTTP exchange to and from a function URL event."""

    server: LocalServer
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FUNCTION_URL_PAYLOAD:  # what a function URL refuses before Lambda runs
            self._send(
                413, {"Content-Type": "text/plain", "Connection": "close"}, b"payload too large"
            )
            return
        raw = self.rfile.read(length) if length else None
        try:
            text, binary = (raw.decode(), False) if raw is not None else (None, False)
        except UnicodeDecodeError:
            text, binary = None, True  # Lambda delivers such bodies base64-encoded
        url = urlsplit(self.path)
        event = http_event(
            self.command,
            url.path,
            headers=dict(self.headers.items()),
            query=url.query,
            body=raw if binary else text,
            base64_body=binary,
            source_ip=self.client_address[0],
        )
        with self.server.lock:
            response = self.server.handler(event, LocalContext())
        self._send(
            int(response["statusCode"]), response.get("headers") or {}, response_body(response)
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

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
) -> LocalServer:
    """A server bound to ``host:port`` (``port=0``: any free port), not yet serving.

    Raises
    ------
    ConfigError
        The environment is not a usable configuration (see :func:`taskchain.bootstrap.make_handler`).
    """
    return LocalServer((host, port), handler or make_handler(env))


def serve(host: str = "127.0.0.1", port: int = 8080, env: Mapping[str, str] | None = None) -> None:
    """Serve until interrupted, printing the URL first."""
    with make_server(host, port, env) as server:
        print(f"taskchain API on {server.url}  (GET {server.url}/health; Ctrl+C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
