"""How the Tablestore store fails: throttling, outages, hung endpoints -> STORE_UNAVAILABLE.

The first half injects the service's documented error codes into FakeOTSClient; the second
drives the real ``tablestore.OTSClient`` against local sockets that answer like a throttled,
broken or hung Tablestore endpoint, so the SDK's own retry and error paths are exercised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import tablestore.protobuf.table_store_pb2 as pb2
import urllib3
from tablestore import (
    Condition,
    OTSClientError,
    OTSServiceError,
    Row,
    RowExistenceExpectation,
)

from taskchain.errors import StoreError
from taskchain.store import tablestore_client
from taskchain.store.tablestore import TablestoreStore
from taskchain.store.tablestore_client import is_condition_failure, new_client
from tests.contract.tablestore_fake import FakeOTSClient, create_tablestore_table, service_error
from tests.factories import FakeClock, complete_step, make_session

TABLE = "sessions"
ACCESS_KEY_ID, ACCESS_KEY_SECRET = "id", "secret"

# The codes Tablestore answers when it is throttled or unavailable (help.aliyun.com error codes).
UNAVAILABLE = [
    (503, "OTSServerBusy", "Server is busy."),
    (503, "OTSPartitionUnavailable", "The partition is not available."),
    (503, "OTSServerUnavailable", "Server is not available."),
    (503, "OTSTimeout", "Operation timeout."),
    (500, "OTSInternalServerError", "Internal server error."),
    (403, "OTSQuotaExhausted", "Too frequent table operations."),
    (403, "OTSNotEnoughCapacityUnit", "Remaining capacity unit is not enough."),
    (409, "OTSRowOperationConflict", "Data is being modified by the other request."),
]


@pytest.fixture
def client() -> FakeOTSClient:
    fake = FakeOTSClient()
    create_tablestore_table(fake, TABLE)
    return fake


@pytest.fixture
def store(client: FakeOTSClient) -> TablestoreStore:
    return TablestoreStore(TABLE, client=client, clock=FakeClock())


# --- codes the service answers (on the fake) ------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "message"), UNAVAILABLE)
def test_a_throttled_save_is_store_unavailable_and_changes_nothing(
    store: TablestoreStore, client: FakeOTSClient, status: int, code: str, message: str
) -> None:
    session = make_session(session_id="s1")
    store.create(session)
    client.fail("UpdateRow", service_error(status, code, message))

    with pytest.raises(StoreError) as caught:
        store.save(complete_step(session, "step_1", "输出"), expected_version=1)

    assert caught.value.code == "STORE_UNAVAILABLE"
    assert caught.value.details["backend"] == "tablestore"
    assert caught.value.details["reason"] == code
    assert 0 < caught.value.details["retry_after"] <= 2
    client.heal()
    assert store.get("t1", "s1") == session


BUSY = service_error(503, "OTSServerBusy", "Server is busy.")


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("BatchWriteRow", lambda s: s.create(make_session(session_id="new"))),
        ("PutRow", lambda s: s.create(make_session(session_id="new"))),
        ("GetRow", lambda s: s.get("t1", "s1")),
        ("GetRange", lambda s: s.list("t1")),
        ("BatchGetRow", lambda s: s.list("t1")),
        ("GetRow", lambda s: s.delete("t1", "s1")),
        ("DeleteRow", lambda s: s.delete("t1", "s1")),
        ("GetRow", lambda s: s.ping()),
    ],
)
def test_every_method_maps_throttling_to_store_unavailable(
    store: TablestoreStore, client: FakeOTSClient, operation: str, call: Any
) -> None:
    store.create(make_session(session_id="s1"))
    client.fail(operation, BUSY)

    with pytest.raises(StoreError) as caught:
        call(store)

    assert caught.value.details["reason"] == "OTSServerBusy"
    client.heal()
    assert store.get("t1", "new") is None
    assert store.get("t1", "s1") is not None


@pytest.mark.parametrize("operation", ["BatchGetRow", "BatchWriteRow"])
def test_a_row_that_fails_inside_a_batch_is_store_unavailable(
    store: TablestoreStore, client: FakeOTSClient, operation: str
) -> None:
    store.create(make_session(session_id="s1"))
    client.fail(operation, BUSY, per_row=True)

    with pytest.raises(StoreError) as caught:
        store.list("t1") if operation == "BatchGetRow" else store.create(make_session())

    assert caught.value.details["reason"] == "OTSServerBusy"


def test_a_missing_table_or_refused_credentials_are_store_unavailable(
    client: FakeOTSClient,
) -> None:
    missing = TablestoreStore("no_such_table", client=client)
    with pytest.raises(StoreError) as caught:
        missing.ping()
    assert caught.value.details["reason"] == "OTSObjectNotExist"

    client.fail("*", service_error(403, "OTSAuthFailed", "Signature mismatch."))
    with pytest.raises(StoreError) as caught:
        TablestoreStore(TABLE, client=client).get("t1", "s1")
    assert caught.value.details["reason"] == "OTSAuthFailed"


def test_a_request_this_module_built_wrong_is_raised_not_hidden(client: FakeOTSClient) -> None:
    client.fail("GetRow", service_error(400, "OTSParameterInvalid", "Invalid column name."))

    with pytest.raises(OTSServiceError):
        TablestoreStore(TABLE, client=client).get("t1", "s1")


class _Broken:
    """A client whose every call raises ``error``: a connection the SDK could not use."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return call


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            urllib3.exceptions.ReadTimeoutError(None, "/GetRow", "read timed out"),
            "ReadTimeoutError",
        ),
        (urllib3.exceptions.ProtocolError("Connection aborted."), "ProtocolError"),
        (ConnectionResetError(104, "reset"), "ConnectionResetError"),
        (OTSClientError("HTTP status: 502, reason: Bad Gateway.", 502), "HTTP 502"),
    ],
)
def test_an_erroring_client_is_store_unavailable(error: Exception, reason: str) -> None:
    store = TablestoreStore(TABLE, client=_Broken(error))

    for call in (
        store.ping,
        lambda: store.get("t1", "s1"),
        lambda: store.create(make_session()),
        lambda: store.list("t1"),
    ):
        with pytest.raises(StoreError) as caught:
            call()
        assert caught.value.details["reason"] == reason


def test_a_store_without_endpoint_or_credentials_is_store_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    store = TablestoreStore(
        TABLE, endpoint="https://i.cn-hangzhou.ots.aliyuncs.com", instance_name="i"
    )

    with pytest.raises(StoreError) as caught:
        store.ping()

    assert caught.value.details["reason"] == "OTSClientError"


# --- the real SDK client on local sockets ---------------------------------------------------------


def test_the_store_makes_its_own_client_with_bounded_retries_and_timeouts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret")
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "sts")
    store = TablestoreStore(TABLE, endpoint="http://127.0.0.1:9", instance_name="taskchain")

    client = store._ots()

    assert client.retry_policy.max_retry_times == 2
    assert client.retry_policy.max_retry_delay == 1.0
    timeout = client.socket_timeout
    assert (timeout.connect_timeout, timeout.read_timeout) == (2.0, 5.0)
    # every attempt timing out and every retry waiting its longest still leaves time within
    # FC's 60 s function timeout to answer 503
    assert 3 * (timeout.connect_timeout + timeout.read_timeout) + 2 * 1.0 < 30


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short timeouts and waits, so the SDK's real behaviour is tested in well under a second."""
    monkeypatch.setattr(tablestore_client, "CONNECT_TIMEOUT", 0.3)
    monkeypatch.setattr(tablestore_client, "READ_TIMEOUT", 0.3)
    monkeypatch.setattr(tablestore_client, "MAX_RETRY_DELAY", 0.01)


def _client(endpoint: str) -> Any:
    return new_client(endpoint, "taskchain", ACCESS_KEY_ID, ACCESS_KEY_SECRET)


class _Canned(BaseHTTPRequestHandler):
    """Answers every request with ``server.answer``, signed as Tablestore signs responses."""

    server: Any

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append(self.path)
        status, body = self.server.answer
        # The response signature: HMAC-SHA1 with the AccessKey secret over the sorted x-ots-*
        # headers and the path (the SDK checks it on 2xx and, in 5.x, on 403 answers).
        headers = {"x-ots-requestid": "canned"}
        signed = "\n".join(f"{k}:{v}" for k, v in sorted(headers.items())) + "\n" + self.path
        digest = hmac.new(ACCESS_KEY_SECRET.encode(), signed.encode(), hashlib.sha1).digest()
        headers["authorization"] = f"OTS {ACCESS_KEY_ID}:{base64.b64encode(digest).decode()}"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[Any]:
    """A local HTTP server answering like Tablestore with an error (set ``answer``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _error_body(code: str, message: str) -> bytes:
    return bytes(pb2.Error(code=code, message=message).SerializeToString())


def _endpoint(server: Any) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_throttling_is_retried_by_the_sdk_and_then_reported(
    canned: Any, fast_retries: None
) -> None:
    # GIVEN an endpoint that answers every request "server busy"
    canned.answer = (503, _error_body("OTSServerBusy", "Server is busy."))
    store = TablestoreStore(TABLE, client=_client(_endpoint(canned)), clock=FakeClock())

    # WHEN a save is throttled on every attempt
    with pytest.raises(StoreError) as caught:
        store.save(complete_step(make_session(), "step_1", "输出"), expected_version=1)

    # THEN the SDK made the first attempt and two retries, and the caller is told when to come back
    assert canned.seen == ["/UpdateRow"] * 3
    assert caught.value.details == {
        "backend": "tablestore",
        "reason": "OTSServerBusy",
        "retry_after": 2,
    }


def test_the_sdk_reports_a_failed_condition_as_condition_check_fail(canned: Any) -> None:
    # As the SDK's own tests assert: HTTP 403, code OTSConditionCheckFail.
    canned.answer = (403, _error_body("OTSConditionCheckFail", "Condition check failed."))
    row = Row([("pk", "S1#s"), ("sk", "session")], {"put": [("version", 2)]})

    with pytest.raises(OTSServiceError) as caught:
        _client(_endpoint(canned)).update_row(
            TABLE, row, Condition(RowExistenceExpectation.EXPECT_EXIST)
        )

    assert caught.value.get_http_status() == 403
    assert is_condition_failure(caught.value)
    assert canned.seen == ["/UpdateRow"]  # a failed condition is not retried


def test_an_answer_that_is_not_tablestores_is_store_unavailable(canned: Any) -> None:
    canned.answer = (502, b"\xff\xff<html>Bad Gateway</html>")
    store = TablestoreStore(TABLE, client=_client(_endpoint(canned)))

    with pytest.raises(StoreError) as caught:
        store.get("t1", "s1")

    assert caught.value.details["reason"] == "HTTP 502"


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (the kernel completes them)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_a_hung_endpoint_answers_store_unavailable_within_the_timeouts(
    hung_endpoint: str, fast_retries: None
) -> None:
    store = TablestoreStore(TABLE, client=_client(hung_endpoint), clock=FakeClock())

    for call in (
        lambda: store.get("t1", "s1"),
        lambda: store.save(complete_step(make_session(), "step_1", "输出"), expected_version=1),
    ):
        began = time.monotonic()
        with pytest.raises(StoreError) as caught:
            call()
        # one read timeout: neither urllib3 nor the SDK retries a request that timed out
        assert time.monotonic() - began < 1.5
        assert caught.value.details["reason"] == "ReadTimeoutError"


def test_an_unreachable_endpoint_is_store_unavailable(fast_retries: None) -> None:
    # Port 9 (discard) is closed on a test machine: the connection is refused at once.
    store = TablestoreStore(TABLE, client=_client("http://127.0.0.1:9"))

    with pytest.raises(StoreError) as caught:
        store.ping()

    assert caught.value.details["reason"] == "MaxRetryError"
