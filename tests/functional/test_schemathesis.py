"""The OpenAPI document describes the behaviour exactly: schemathesis against the local server.

Every operation of ``/openapi.json`` is exercised with valid and invalid data (the examples,
coverage and fuzzing phases, at most ``MAX_EXAMPLES`` generated cases per operation, each answer
within ``DEADLINE_MS``) against the local server on a free loopback port — the handler Lambda
runs, on a memory store — with the service token sent, and with every check on: no 5xx, only
documented statuses, content types, headers and bodies, invalid data refused, valid data taken.

Two statements of the contract the checks take as configuration, not as exemptions:

- 422 answers data the schema allows but no chain can be built from (a dependency on a step that
  does not exist, a cycle, two sections with one title): ``INVALID_CUSTOM_CHAIN``, which no JSON
  Schema can express. Valid data may be refused with it, never with a 400. Likewise
  ``EXECUTOR_UNAVAILABLE``: ``config.executor: llm`` on a service with no model configured.
- The Coze routes answer business and validation errors with 200 and ``success: false`` (Coze
  shows the model the body, not the status), so the negative/positive data checks judge them by
  the status their error code has on the REST routes (:func:`coze_answers_like_rest`).

schemathesis loads the document from a dict: its lazy ``from_fixture`` loader does not run on
pytest 9.2 (it reads ``Function._nodeid``, which pytest removed). The document is the handler's
own ``GET /openapi.json``; ``test_the_server_serves_the_document_under_test`` checks the server
serves the same one.
"""

from __future__ import annotations

import copy
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from taskchain.bootstrap import make_handler
from taskchain.http.auth import token_digest
from taskchain.http.events import LocalContext, http_event, response_body
from taskchain.http.local import LocalServer, make_server
from taskchain.requests import CURSOR_FORMAT
from taskchain.store import encode_cursor

pytestmark = pytest.mark.integration

TOKEN = "schemathesis-token"
ENV = {"TASKCHAIN_STORE": "memory", "TASKCHAIN_API_TOKENS": f"fuzz=sha256:{token_digest(TOKEN)}"}
MAX_EXAMPLES = 25
DEADLINE_MS = 3000
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
# Every check schemathesis has for a single operation, on (the stateful ones need links).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
)
CONFIG: dict[str, Any] = {
    "seed": 20260801,
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
    "checks": {
        "enabled": True,
        **{name: {"enabled": True} for name in CHECKS},
        "positive_data_acceptance": {"enabled": True, "expected-statuses": POSITIVE_STATUSES},
    },
    "operations": [
        {
            "include-tag": "coze",
            "checks": {
                "negative_data_rejection": {"enabled": False},
                "positive_data_acceptance": {"enabled": False},
            },
        }
    ],
    "auth": {"openapi": {"bearer": {"bearer": TOKEN}}},
    "request-timeout": 10,
}
# What an error code answers on the REST routes (the Coze routes answer it with 200).
REST_STATUS = {"AUTHENTICATION_ERROR": 401, "NOT_FOUND": 404, "CONFLICT": 409}
UNPROCESSABLE = frozenset(
    {"INVALID_CUSTOM_CHAIN", "IDEMPOTENCY_KEY_REUSED", "EXECUTOR_UNAVAILABLE"}
)
ERROR_KEYS = {"success", "error_code", "category", "error", "details"}


def served_document() -> dict[str, Any]:
    """``GET /openapi.json`` of the handler the server runs (built in-process, at collection)."""
    reply = make_handler(ENV)(http_event("GET", "/openapi.json"), LocalContext())
    document: dict[str, Any] = json.loads(response_body(reply))
    return document


# An opaque cursor is one this service made: positive cases send such cursors.
schemathesis.openapi.format(
    CURSOR_FORMAT,
    st.builds(
        encode_cursor,
        st.floats(min_value=0, max_value=4e9, allow_nan=False),
        st.text(max_size=40),
    ),
)


def rest_status(body: Any) -> int:
    """The status a REST route answers a Coze route's body with."""
    if not isinstance(body, dict) or set(body) != ERROR_KEYS:
        return 200  # an answer (a run that stopped included: /v1/run answers it with 200)
    code, category = body.get("error_code"), body.get("category")
    if category == "VALIDATION_ERROR":
        return 422 if code in UNPROCESSABLE else 400
    if code == "STORE_UNAVAILABLE":
        return 503
    return REST_STATUS.get(str(category), 500)


@schemathesis.check
def coze_answers_like_rest(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """On a Coze route, refuse invalid data and take valid data as the REST routes do, judged by
    the status the answer's error code has there (the Coze route itself answers 200)."""
    if not case.path.startswith("/coze/") or response.status_code != 200:
        return None
    as_rest = copy.copy(response)
    as_rest.status_code = rest_status(json.loads(response.content or b"null"))
    schemathesis.checks.negative_data_rejection(ctx, as_rest, case)
    schemathesis.checks.positive_data_acceptance(ctx, as_rest, case)
    return None


DOCUMENT = served_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """The local server on a free loopback port, in a thread, for this module."""
    with make_server("127.0.0.1", 0, handler=make_handler(ENV)) as srv:
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        yield srv
        srv.shutdown()
        thread.join(5)


def test_the_server_serves_the_document_under_test(server: LocalServer) -> None:
    with urllib.request.urlopen(f"{server.url}/openapi.json", timeout=10) as reply:
        assert json.loads(reply.read()) == DOCUMENT


def test_the_disagreements_schemathesis_found_are_settled() -> None:
    handler = make_handler(ENV)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def call(method: str, path: str, body: Any = None, **query: str) -> tuple[int, Any]:
        event = http_event(method, path, headers=auth, body=body, query=query or None)
        reply = handler(event, LocalContext())
        return reply["statusCode"], json.loads(response_body(reply))

    chain = DOCUMENT["components"]["schemas"]["ChainRequest"]
    # A boolean is a boolean: 0 is refused, as the document says.
    flag = chain["properties"]["continue_on_failure"]["anyOf"][0]
    assert flag == {"type": "boolean"}
    good = {"task_type": "analysis", "target": "门店选址"}
    status, body = call("POST", "/v1/sessions", {**good, "continue_on_failure": 0})
    assert (status, body["details"]["field"]) == (400, "continue_on_failure")
    # custom needs custom_chain: the document says so, and the behaviour is the same.
    assert chain["if"]["properties"]["task_type"] == {"const": "custom"}
    assert chain["then"]["required"] == ["custom_chain"]
    status, body = call("POST", "/v1/sessions", {"task_type": "custom", "target": "x"})
    assert (status, body["error_code"]) == (400, "MISSING_REQUIRED_FIELD")
    # /health refuses a bad `deep` with a documented 400.
    assert "400" in DOCUMENT["paths"]["/health"]["get"]["responses"]
    status, body = call("GET", "/health", deep="maybe")
    assert (status, body["details"]["field"]) == (400, "deep")


@schema.parametrize()
@settings(
    deadline=DEADLINE_MS,
    max_examples=MAX_EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_document(case: schemathesis.Case, server: LocalServer) -> None:
    case.call_and_validate(base_url=server.url, timeout=10)
