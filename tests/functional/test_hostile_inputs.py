"""Bad input never causes a 5xx or a raise, on any platform, and no answer shows an exception.

A hostile client's inputs — JSON nested 1,000+ levels deep, integers of thousands of digits,
unpaired surrogates in body strings, headers, query values, paths and cursors, malformed Lambda
function-URL and Aliyun FC HTTP-trigger events, direct invocations that are not a request, huge
bodies, and malformed HTTP on the local server — each answered with a 4xx (or, on Coze routes and
direct invocations, a ``success: false`` body) that names the problem, not with a 500, a raised
exception, a closed connection or an HTML page.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from handlers import aliyun_fc
from taskchain.bootstrap import Handler, make_handler
from taskchain.http.auth import token_digest
from taskchain.http.events import LocalContext, http_event, response_body
from taskchain.http.local import LocalServer, make_server
from tools.fc_events import to_fc

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "hostile-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENV = {"TASKCHAIN_STORE": "memory", "TASKCHAIN_API_TOKENS": f"acme=sha256:{token_digest(TOKEN)}"}
GOOD = {"task_type": "analysis", "target": "一家社区咖啡店是否应该推出会员订阅制"}
# Exception text a caller must never see: tracebacks, exception class names, reprs.
LEAK = re.compile(r"Traceback|File \"|\b[A-Z][a-zA-Z]*(?:Error|Exception)\b|Error\(|<class ")
POSTS = [
    "/v1/run",
    "/v1/runs",
    "/v1/sessions",
    "/coze/run",
    "/coze/runs/start",
    "/coze/sessions/start",
]
DEEP = [1_000, 5_000, 100_000]
HUGE = "9" * 5_000


@dataclass
class FcContext:
    request_id: str = "hostile-1"


@pytest.fixture(scope="module")
def handler() -> Handler:
    return make_handler(ENV)


@pytest.fixture(scope="module")
def sqlite_handler(tmp_path_factory: pytest.TempPathFactory) -> Handler:
    home = tmp_path_factory.mktemp("sqlite")
    return make_handler({**ENV, "TASKCHAIN_STORE": "sqlite", "TASKCHAIN_HOME": str(home)})


def refused(body: Any, code: str | None = None) -> dict[str, Any]:
    """``body`` is an error body without exception text (and with ``code``, when given)."""
    assert isinstance(body, dict), body
    assert body["success"] is False, body
    assert body["error_code"] != "INTERNAL_ERROR", body
    assert not LEAK.search(json.dumps(body, ensure_ascii=False)), body
    if code is not None:
        assert body["error_code"] == code, body
    return body


def http(response: Any) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of a function-URL (or FC HTTP) answer, checked for leaks."""
    assert isinstance(response, dict), response
    assert isinstance(response.get("statusCode"), int), response
    status = response["statusCode"]
    assert status < 500, response
    body = json.loads(response_body(response))
    assert not LEAK.search(json.dumps(body, ensure_ascii=False)), body
    return status, body


def via_lambda(handler: Handler, event: Any) -> Any:
    return handler(event, LocalContext())


def via_fc(handler: Handler, event: Any) -> Any:
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    return aliyun_fc.serve(handler, raw, FcContext())


def send(handler: Handler, shell: str, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A function-URL event through the Lambda shell, or as an FC HTTP trigger through FC's."""
    return http(via_lambda(handler, event) if shell == "lambda" else via_fc(handler, to_fc(event)))


def expect_refusal(status: int, body: dict[str, Any], path: str, code: str) -> None:
    """REST answers the error status; Coze routes answer 200 with the same error body."""
    assert status == (200 if path.startswith("/coze/") else 400), (status, body)
    refused(body, code)


SHELLS = pytest.mark.parametrize("shell", ["lambda", "fc"])


# --- nesting and numbers ------------------------------------------------------------------------


@SHELLS
@pytest.mark.parametrize("depth", DEEP)
@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("encoded", [False, True])
def test_deep_nesting_in_any_post_body_is_invalid_json(
    handler: Handler, shell: str, depth: int, path: str, encoded: bool
) -> None:
    body = '{"task_type":"analysis","target":"x","config":' + "[" * depth + "]" * depth + "}"
    event = http_event("POST", path, headers=AUTH, body=body.encode(), base64_body=encoded)
    status, answer = send(handler, shell, event)
    expect_refusal(status, answer, path, "INVALID_JSON")


@SHELLS
@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "continue_on_failure": HUGE},
        {**GOOD, "config": {"depth": HUGE}},
        {**GOOD, "custom_chain": [{"name": "x", "max_attempts": HUGE}]},
        {**GOOD, "config": {"language": "-" + HUGE}},
    ],
    ids=["top", "config", "nested", "negative"],
)
def test_an_integer_of_thousands_of_digits_anywhere_is_invalid_json(
    handler: Handler, shell: str, body: dict[str, str]
) -> None:
    text = json.dumps(body).replace(f'"-{HUGE}"', f"-{HUGE}").replace(f'"{HUGE}"', HUGE)
    for path in POSTS:
        status, answer = send(handler, shell, http_event("POST", path, headers=AUTH, body=text))
        expect_refusal(status, answer, path, "INVALID_JSON")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_json_has_no_room_for_are_invalid_json(handler: Handler, literal: str) -> None:
    text = json.dumps({"output": "x"})[:-1] + f', "expected_version": {literal}}}'
    status, body = http(via_lambda(handler, http_event("POST", "/v1/run", headers=AUTH, body=text)))
    assert status == 400
    refused(body, "INVALID_JSON")


def test_a_huge_integer_in_a_query_is_an_invalid_field(handler: Handler) -> None:
    for path in ("/v1/sessions", "/v1/templates"):
        event = http_event("GET", path, headers=AUTH, query={"limit": HUGE})
        status, body = http(via_lambda(handler, event))
        assert status == 400
        assert refused(body, "INVALID_FIELD")["details"]["field"] == "limit"


# --- Unicode --------------------------------------------------------------------------------------


@SHELLS
@pytest.mark.parametrize("path", POSTS)
def test_an_unpaired_surrogate_in_a_body_string_is_invalid_json(
    handler: Handler, shell: str, path: str
) -> None:
    text = json.dumps({**GOOD, "target": "咖啡\ud800店"})  # ensure_ascii: the \ud800 escape
    status, body = send(handler, shell, http_event("POST", path, headers=AUTH, body=text))
    expect_refusal(status, body, path, "INVALID_JSON")


def test_a_literal_surrogate_in_a_hand_made_body_is_invalid_json(handler: Handler) -> None:
    event = http_event("POST", "/v1/sessions", headers=AUTH, body="{}")
    event["body"] = json.dumps({**GOOD, "target": "\udfff"}, ensure_ascii=False)
    status, body = http(via_lambda(handler, event))
    assert status == 400
    refused(body, "INVALID_JSON")


def cursor_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of(b'[1.5, "\\ud800"]'),  # decodes to an unpaired surrogate
        cursor_of(b"[" * 300 + b"]" * 300),  # nested past any cursor
        cursor_of(b'[1.5, "\xff\xfe"]'),  # not UTF-8
        cursor_of(b"[1e999, 1]"),
        "!!!!",
    ],
    ids=["surrogate", "deep", "not-utf8", "infinite", "not-base64"],
)
def test_a_foreign_cursor_is_an_invalid_field_on_sqlite(
    sqlite_handler: Handler, cursor: str
) -> None:
    for shell in ("lambda", "fc"):
        event = http_event("GET", "/v1/sessions", headers=AUTH, query={"cursor": cursor})
        status, body = send(sqlite_handler, shell, event)
        assert status == 400, body
        assert refused(body, "INVALID_FIELD")["details"]["field"] == "cursor"
    headers = {**AUTH, "X-AIPlugin-UID": "u1"}  # without a caller, Coze lists nothing
    coze = http_event("POST", "/coze/sessions/list", headers=headers, body={"cursor": cursor})
    status, body = send(sqlite_handler, "lambda", coze)
    assert status == 200
    assert refused(body, "INVALID_FIELD")["details"]["field"] == "cursor"


@SHELLS
@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_an_unpaired_surrogate_in_a_header_query_or_path_is_an_invalid_field(
    handler: Handler, sqlite_handler: Handler, shell: str, store: str
) -> None:
    serve = handler if store == "memory" else sqlite_handler
    uid = http_event("GET", "/v1/sessions", headers={**AUTH, "X-AIPlugin-UID": "u\ud800"})
    query = http_event("GET", "/v1/sessions", headers=AUTH)
    query.update(rawQueryString="user=%ED%B0%80", queryStringParameters={"user": "\udc00"})
    path = http_event("GET", "/v1/sessions/\ud800", headers=AUTH)
    start = http_event("POST", "/v1/sessions", headers={**AUTH, "Accept-Language": "\ud800"})
    start["body"] = json.dumps(GOOD)
    for event, field in ((uid, "x-aiplugin-uid"), (query, "user"), (path, "path"), (start, None)):
        status, body = send(serve, shell, event)
        assert status == 400, body
        found = refused(body, "INVALID_FIELD")["details"]["field"]
        assert field is None or found == field, body


def test_a_token_with_an_unpaired_surrogate_is_just_a_wrong_token(handler: Handler) -> None:
    event = http_event("GET", "/v1/sessions", headers={"Authorization": "Bearer \ud800"})
    status, body = http(via_lambda(handler, event))
    assert status == 401
    refused(body, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "("},
        {"patternProperties": {"[": {}}},
        {"type": "array", "items": [1]},
        {"properties": 5},
        {"$ref": "http://127.0.0.1:9/schema.json"},
        {"$ref": "file:///etc/passwd"},
        {"definitions": {"a": {"$ref": "ftp://example.com/x"}}},
    ],
    ids=[
        "bad-pattern",
        "bad-pattern-key",
        "items-not-schemas",
        "wrong-type",
        "http",
        "file",
        "ftp",
    ],
)
def test_a_custom_json_schema_that_cannot_be_compiled_or_reaches_outside_is_a_422(
    handler: Handler, monkeypatch: pytest.MonkeyPatch, schema: dict[str, Any]
) -> None:
    def no_fetch(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a user's schema made the service fetch {args}")

    monkeypatch.setattr("urllib.request.urlopen", no_fetch)
    step = {"name": "a", "validation_rules": {"json_schema": schema}}
    body = {"task_type": "custom", "target": "x", "custom_chain": [step]}
    for path in ("/v1/sessions", "/v1/run"):
        status, answer = http(
            via_lambda(handler, http_event("POST", path, headers=AUTH, body=body))
        )
        assert status == 422, answer
        assert refused(answer, "INVALID_CUSTOM_CHAIN")["details"]["reason"]


# --- malformed events ---------------------------------------------------------------------------


def broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = http_event("POST", "/v1/sessions", headers=AUTH, body=GOOD)
    change(event)
    return event


MALFORMED_LAMBDA: dict[str, Callable[[dict[str, Any]], None]] = {
    "http-empty": lambda e: e["requestContext"].update(http={}),
    "http-list": lambda e: e["requestContext"].update(http=[]),
    "context-text": lambda e: e.update(requestContext="x"),
    "context-missing": lambda e: e.pop("requestContext"),
    "method-number": lambda e: e["requestContext"]["http"].update(method=7),
    "headers-list": lambda e: e.update(headers=[["authorization", "x"]]),
    "header-number": lambda e: e["headers"].update({"x-number": 1}),
    "rawpath-null": lambda e: e.update(rawPath=None),
    "rawpath-missing": lambda e: e.pop("rawPath"),
    "body-dict": lambda e: e.update(body=GOOD),
    "body-number": lambda e: e.update(body=12),
    "query-number": lambda e: e.update(queryStringParameters={"limit": 5}),
    "query-list": lambda e: e.update(queryStringParameters=["limit"]),
    "cookies-text": lambda e: e.update(cookies="a=b"),
    "base64-flag-text": lambda e: e.update(isBase64Encoded="false"),
}


@pytest.mark.parametrize("name", MALFORMED_LAMBDA)
def test_a_malformed_function_url_event_is_a_400(handler: Handler, name: str) -> None:
    response = via_lambda(handler, broken(MALFORMED_LAMBDA[name]))
    if "statusCode" not in response:  # no longer an HTTP event at all: a direct invocation
        refused(response)
        return
    status, body = http(response)
    assert status == 400, body
    refused(body, "INVALID_REQUEST")


@pytest.mark.parametrize("body", ["!!!!", "abc", "e30=!", "====", "////", "e30\ud800"])
def test_a_body_flagged_base64_that_is_not_is_invalid_json(handler: Handler, body: str) -> None:
    for shell in ("lambda", "fc"):
        event = http_event("POST", "/v1/sessions", headers=AUTH, body=b"{}", base64_body=True)
        event["body"] = body
        status, answer = send(handler, shell, event)
        assert status == 400, answer
        refused(answer, "INVALID_JSON")


MALFORMED_FC: dict[str, Callable[[dict[str, Any]], None]] = {
    "http-empty": lambda e: e["requestContext"].update(http={}),
    "http-missing": lambda e: e["requestContext"].pop("http"),
    "context-list": lambda e: e.update(requestContext=[1]),
    "context-text": lambda e: e.update(requestContext="x"),
    "headers-list": lambda e: e.update(headers=[1, 2]),
    "header-number": lambda e: e["headers"].update({"X-Number": 1}),
    "rawpath-null": lambda e: e.update(rawPath=None),
    "body-dict": lambda e: e.update(body=GOOD),
    "query-number": lambda e: e.update(queryParameters={"limit": 5}),
    "query-huge": lambda e: e.update(queryParameters={"limit": 10**50}),
    "query-text": lambda e: e.update(queryParameters="limit=5"),
    "base64-flag-text": lambda e: e.update(isBase64Encoded="yes"),
    "method-null": lambda e: e["requestContext"]["http"].update(method=None),
}


@pytest.mark.parametrize("name", MALFORMED_FC)
def test_a_malformed_fc_http_trigger_event_never_raises(handler: Handler, name: str) -> None:
    event = to_fc(http_event("POST", "/v1/sessions", headers=AUTH, body=GOOD))
    MALFORMED_FC[name](event)
    response = via_fc(handler, event)
    if "statusCode" not in response:
        refused(response)
        return
    status, body = http(response)
    assert status == 400, body
    refused(body)


# --- direct invocations ---------------------------------------------------------------------------


def deep_dict(depth: int) -> dict[str, Any]:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return {**GOOD, "config": {"focus_areas": value}}


DIRECT: list[Any] = [
    None, 1, 3.5, True, [], [GOOD], "", "x", "null", "[]", "123", '"text"', b"", b"\xff\xfe\x00",
    "[" * 1000 + "]" * 1000, ("[" * 100_000).encode(), '{"task_type": ' + HUGE + "}",
    '{"target": "\\ud800"}', deep_dict(5_000), {**GOOD, "continue_on_failure": 10**5000},
    {**GOOD, "target": "\ud800"}, {**GOOD, "config": {"language": 10**5000}}, "x" * 1_000_000,
]  # fmt: skip


@pytest.mark.parametrize("event", DIRECT, ids=range(len(DIRECT)))
def test_a_direct_invocation_that_is_not_a_request_answers_an_error_body(
    handler: Handler, event: Any
) -> None:
    refused(via_lambda(handler, event))
    if isinstance(event, (str, bytes)):  # FC passes the event as bytes
        refused(via_fc(handler, event if isinstance(event, bytes) else event.encode()))


@pytest.mark.parametrize("raw", [b"", b"null", b"[1]", b"\xff\xfe", b"not json", b"123", b'"x"'])
def test_an_fc_event_that_is_not_a_request_answers_an_error_body(
    handler: Handler, raw: bytes
) -> None:
    refused(via_fc(handler, raw))


# --- sizes --------------------------------------------------------------------------------------


@SHELLS
def test_a_huge_body_is_refused_with_413(handler: Handler, shell: str) -> None:
    body = json.dumps({**GOOD, "target": "x" * 400_000})
    for path in POSTS:
        status, answer = send(handler, shell, http_event("POST", path, headers=AUTH, body=body))
        assert status == 413, answer
        refused(answer, "PAYLOAD_TOO_LARGE")


# --- the local server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(handler: Handler) -> Iterator[LocalServer]:
    with make_server("127.0.0.1", 0, handler=handler, read_timeout=1.0) as srv:
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        yield srv
        srv.shutdown()
        thread.join(5)


def exchange(server: LocalServer, request: bytes) -> tuple[int, dict[str, str], Any]:
    """Send raw bytes, read the whole answer (the server closes or says how long it is)."""
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"the connection closed with no answer: {data!r}"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk
            rest += chunk
    status = int(lines[0].split()[1])
    assert headers["content-type"] == "application/json", (lines[0], rest[:200])
    return status, headers, json.loads(rest[:length])


def request(line: str, *headers: str, body: bytes = b"") -> bytes:
    head = "\r\n".join([line, "Host: localhost", *headers, "", ""])
    return head.encode() + body


AUTH_LINE = f"Authorization: Bearer {TOKEN}"
GOOD_BYTES = json.dumps(GOOD).encode()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (request("POST /v1/sessions HTTP/1.1", AUTH_LINE, "Content-Length: abc"), 400),
        (request("POST /v1/sessions HTTP/1.1", AUTH_LINE, "Content-Length: -1"), 400),
        (request("POST /v1/sessions HTTP/1.1", AUTH_LINE, "Content-Length: " + "9" * 5000), 400),
        (request("POST /v1/sessions HTTP/1.1", AUTH_LINE, "Content-Length: 99999999"), 413),
        (request("POST /v1/sessions HTTP/1.1", AUTH_LINE, "Content-Length: 50", body=b"{}"), 408),
        (request("TRACE /v1/sessions HTTP/1.1", AUTH_LINE), 405),
        (request("PROPFIND /health HTTP/1.1", AUTH_LINE), 405),
        (request("BREW /nowhere HTTP/1.1", AUTH_LINE), 404),
        (request("TRACE /v1/sessions HTTP/1.1"), 401),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 400),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (request("GET /v1/sessions/\xff HTTP/1.1", AUTH_LINE).replace(b"\xc3\xbf", b"\xff"), 400),
        (
            request(
                "POST /v1/sessions HTTP/1.1", AUTH_LINE, "Transfer-Encoding: chunked", body=b"zz\r\n"
            ),
            400,
        ),
        (
            request(
                "POST /v1/sessions HTTP/1.1",
                AUTH_LINE,
                "Transfer-Encoding: chunked",
                body=b"%x\r\n%s\r\n0\r\n\r\n" % (len(GOOD_BYTES), GOOD_BYTES),
            ),
            201,
        ),
        (request("GET /v1/templates?search=分析 HTTP/1.1", AUTH_LINE), 200),
        (request("GET /v1/sessions HTTP/1.1", AUTH_LINE, "X-AIPlugin-UID: 用户一"), 200),
    ],
    ids=[
        "length-text", "length-negative", "length-huge", "length-over-6mb", "body-short",
        "trace", "propfind", "unknown-method", "trace-no-token", "garbage-line", "http2",
        "uri-too-long", "target-not-utf8", "chunk-size-text", "chunked", "utf8-query",
        "utf8-header",
    ],
)  # fmt: skip
def test_the_local_server_answers_every_request_with_json(
    server: LocalServer, raw: bytes, status: int
) -> None:
    got, _, body = exchange(server, raw)
    assert got == status, body
    if status >= 400:
        refused(body)


def test_raw_utf8_in_a_query_or_header_reads_as_utf8(server: LocalServer) -> None:
    _, _, body = exchange(server, request("GET /v1/templates?search=分析 HTTP/1.1", AUTH_LINE))
    assert body["count"] >= 1


def test_the_local_server_lives_on_after_every_bad_request(server: LocalServer) -> None:
    got, _, body = exchange(server, request("GET /health HTTP/1.1"))
    assert (got, body["status"]) == (200, "healthy")


# --- starting the server ------------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("command", ["cli", "shell"])
def test_serve_reports_a_busy_port_or_no_tokens_in_one_line_and_exit_code_2(
    busy_port: int, command: str
) -> None:
    program = ["taskchain.cli", "serve"] if command == "cli" else ["handlers.local_server"]
    runs = {
        "busy port": ({"TASKCHAIN_ALLOW_ANONYMOUS": "true"}, str(busy_port)),
        "no tokens": ({}, "0"),
        "port out of range": ({"TASKCHAIN_ALLOW_ANONYMOUS": "true"}, "70000"),
    }
    for why, (extra, port) in runs.items():
        env = {"PATH": "/usr/bin:/bin", "TASKCHAIN_STORE": "memory", **extra}
        done = subprocess.run(
            [sys.executable, "-m", *program, "--port", port],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        lines = [ln for ln in done.stderr.splitlines() if not ln.startswith("{")]  # log records
        assert done.returncode == 2, (why, done.stderr)
        assert len(lines) == 1, (why, done.stderr)
        assert lines[0].startswith("taskchain: "), (why, done.stderr)
        assert not LEAK.search(done.stderr), (why, done.stderr)
