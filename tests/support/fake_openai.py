"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted answers, for tests.

    server = FakeOpenAI().start()
    server.script(rate_limited(retry_after=2), answer("## 结论\\n可以开"))
    ...  # point a client at server.base_url
    server.requests[0].body["model"]
    server.stop()

Each request takes the next scripted :class:`Behaviour` (then ``default``), unless a
``responder`` is set, which receives the :class:`RecordedRequest` and returns one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Behaviour:
    """What the server does with one request: wait ``delay`` s, then answer ``status`` with
    ``body`` (raw bytes) or, when ``body`` is None, a chat completion of ``content``."""

    status: int = 200
    content: str | None = "好的。"
    usage: Mapping[str, int] | None = None
    model: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0
    finish_reason: str = "stop"

    def payload(self, request: RecordedRequest) -> bytes:
        """The response body."""
        if self.body is not None:
            return self.body
        model = self.model or (request.body or {}).get("model") or "fake-model"
        data: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.content},
                    "finish_reason": self.finish_reason,
                }
            ],
        }
        if self.usage is not None:
            data["usage"] = dict(self.usage)
        return json.dumps(data, ensure_ascii=False).encode()


def answer(
    content: str = "好的。",
    *,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    model: str | None = None,
    delay: float = 0.0,
) -> Behaviour:
    """A good answer, with usage when token counts are given."""
    usage = None
    if prompt_tokens is not None or completion_tokens is not None:
        usage = {
            "prompt_tokens": prompt_tokens or 0,
            "completion_tokens": completion_tokens or 0,
            "total_tokens": (prompt_tokens or 0) + (completion_tokens or 0),
        }
    return Behaviour(content=content, usage=usage, model=model, delay=delay)


def error(status: int, message: str = "fake error", *, retry_after: str | None = None) -> Behaviour:
    """An error status with an OpenAI-style error body (and ``Retry-After`` when given)."""
    body = json.dumps({"error": {"message": message, "type": "fake", "code": status}}).encode()
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Behaviour(status=status, body=body, headers=headers)


def rate_limited(retry_after: float | str | None = None) -> Behaviour:
    """429, with ``Retry-After`` (seconds, or an HTTP date as a string) when given."""
    return error(
        429, "rate limit reached", retry_after=None if retry_after is None else str(retry_after)
    )


def hang(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Answer (``then``, else a good answer) only after ``seconds``; cut short by :meth:`stop`."""
    return Behaviour(**{**_fields(then or answer()), "delay": seconds})


def malformed() -> Behaviour:
    """A 200 whose body is not JSON."""
    return Behaviour(body=b'{"choices": [ this is not json')


def empty_content(content: str | None = "   \n ") -> Behaviour:
    """A 200 completion whose content is blank (or null)."""
    return Behaviour(content=content, finish_reason="length")


def missing_choices() -> Behaviour:
    """A 200 JSON object without ``choices``."""
    return Behaviour(body=json.dumps({"id": "x", "object": "chat.completion"}).encode())


def _fields(behaviour: Behaviour) -> dict[str, Any]:
    return {name: getattr(behaviour, name) for name in Behaviour.__slots__}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server saw it: headers with lower-case names, the JSON body if any."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    raw: bytes
    arrived: float  # time.monotonic() when its headers were read


class FakeOpenAI:
    """The server; ``latency`` adds a fixed wait to every answer."""

    def __init__(self, *, default: Behaviour | None = None, latency: float = 0.0) -> None:
        self.default = default or answer()
        self.latency = latency
        self.responder: Callable[[RecordedRequest], Behaviour] | None = None
        self._queue: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``: the base URL a client is configured with."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def script(self, *behaviours: Behaviour) -> FakeOpenAI:
        """Queue ``behaviours`` for the next requests, in order; returns ``self``."""
        with self._lock:
            self._queue.extend(behaviours)
        return self

    def start(self) -> FakeOpenAI:
        """Serve in a daemon thread; returns ``self``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still waiting are dropped without an answer."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self, request: RecordedRequest) -> Behaviour:
        with self._lock:
            self._requests.append(request)
            responder = self.responder
            scripted = self._queue.popleft() if self._queue else None
        if responder is not None:
            return responder(request)
        return scripted or self.default


def _handler_for(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            arrived = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = None
            request = RecordedRequest(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                raw,
                arrived,
            )
            behaviour = server._next(request)
            if server._stopping.wait(behaviour.delay + server.latency):
                self.close_connection = True
                return  # shutting down: drop the request unanswered
            payload = behaviour.payload(request)
            try:
                self.send_response(behaviour.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up (its read timeout): nothing to answer
                pass
            self.close_connection = True

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output clean

    return Handler
